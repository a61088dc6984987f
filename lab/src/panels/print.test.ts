import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PanelRow } from './evaluate.js';
import { allPanelsHaveData, formatPanelTable } from './print.js';

const row = (over: Partial<PanelRow>): PanelRow => ({
  dashboard: 'recipe-mesh / Redis',
  dashboardUid: 'recipe-mesh-redis',
  panel: 'Cache hit ratio',
  panelId: 3,
  refId: 'A',
  expr: 'x',
  series: 2,
  latestValue: 0.93456,
  ...over,
});

test('the table shows series, latest value and why a row is empty, failed or skipped', () => {
  const rows = [
    row({}),
    row({ panel: 'empty', series: 0, latestValue: null }),
    row({ panel: 'broken', series: null, latestValue: null, error: 'parse error' }),
    row({ panel: 'istio', series: null, latestValue: null, skipped: 'Kubernetes only: no Istio' }),
  ];
  const text = formatPanelTable(rows);
  assert.match(text, /^Redis\s+Cache hit ratio\s+A\s+2\s+0\.9346$/m);
  assert.match(text, /empty\s+A\s+0\s+-\s+EMPTY/);
  assert.match(text, /broken .*ERROR parse error/);
  assert.match(text, /istio .*Kubernetes only$/m);
  assert.match(text, /3 queries run: 1 with data, 1 empty, 1 failed, 1 skipped/);
});

test('allPanelsHaveData fails on an empty or failed query and ignores skipped ones', () => {
  assert.equal(allPanelsHaveData([row({}), row({ series: null, skipped: 'Kubernetes only' })]), true);
  assert.equal(allPanelsHaveData([row({}), row({ series: 0 })]), false);
  assert.equal(allPanelsHaveData([row({ series: null, error: 'bad' })]), false);
});
