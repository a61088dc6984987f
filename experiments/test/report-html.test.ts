import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Recorder } from '../src/recording.js';
import type { RunReport } from '../src/report.js';
import { renderReportHtml, timelineCharts, verdictText } from '../src/report-html/render.js';
import { reportView } from '../src/report-html/view.js';
import { recordRepeat } from '../src/report-html/write.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** A run's JSON report with its recorded timeline (upload-oom without fix). */
const fixture = JSON.parse(readFileSync(path.join(here, 'fixtures', 'upload-oom-incident.json'), 'utf8')) as RunReport;

test('the page carries the verdict, hypothesis, tables, log lines, fix and cleanup from recorded evidence', () => {
  const html = renderReportHtml(reportView(fixture));
  assert.match(html, /<span id="verdict-text">INCIDENT<\/span>/);
  assert.ok(html.includes(fixture.hypothesis.replace(/"/g, '&quot;').replace(/'/g, '&#39;')), 'hypothesis');
  for (const part of [
    'Request rate by status and Envoy response flag',
    'Latency p50 and p99',
    'nodejs_external_memory_bytes',
    'POST /recipes/42/photo',
    'busboy',
    'data-copy="fix-0"',
    'Everything the run changed was restored',
    '48 MiB uploads',
  ])
    assert.ok(html.includes(part), `page lacks ${part}`);
  // Self-contained: uPlot inlined, no external src/href, a CSP that forbids fetching anything.
  assert.match(html, /uPlot/);
  assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)=/);
  assert.match(html, /default-src 'none'/);
});

test('the chart data is the recorded series: one rate series per outcome, p50/p99, one chart per metric', () => {
  const charts = timelineCharts(fixture.timeline!);
  assert.deepEqual(charts.rate!.series, ['201 -', '503 UC']);
  assert.deepEqual(charts.rate!.x, [0, 1, 2, 3, 4]);
  assert.deepEqual(charts.rate!.y[1], [0, 0, 0, 1, 0]);
  assert.deepEqual(charts.latency!.series, ['p50', 'p99']);
  assert.equal(charts.metric0!.x.length, 6);
  assert.equal(charts.rate!.moments.find((m) => m.kind === 'fault')?.start, 0.3);
});

test('a restore failure, a fix run and a repeat show in the banner and cleanup', () => {
  const report = {
    ...fixture,
    mode: 'fix' as const,
    fixVariant: 'busboy-limits',
    verdict: { outcome: 'healthy' as const, reasons: [] },
    expectationHeld: true,
    restoreFailures: ['recipe-api faults: ECONNREFUSED'],
    repeat: { k: 3, n: 3 },
  };
  const view = reportView(report);
  assert.equal(verdictText(view), 'HEALTHY 3/3');
  const html = renderReportHtml(view);
  assert.match(html, /RESTORE FAILED/);
  assert.match(html, /with fix busboy-limits/);
  assert.doesNotMatch(html, /Everything the run changed was restored/);
});

test("after --repeat, the last run's JSON and page carry k/N", async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-repeat-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const json = path.join(dir, 'upload-oom-incident.json');
  writeFileSync(json, JSON.stringify(fixture));
  const html = await recordRepeat(fixture, json, { k: 2, n: 3 });
  assert.deepEqual((JSON.parse(readFileSync(json, 'utf8')) as { repeat: unknown }).repeat, { k: 2, n: 3 });
  assert.match(readFileSync(html, 'utf8'), /INCIDENT 2\/3/);
});

test('the recorder buckets per second, counts a request once, and keeps only the compared series', () => {
  const t0 = 1_000_000;
  const rec = new Recorder(t0);
  const a = { startedAtMs: t0 + 100, latencyMs: 10, status: 200, outcome: '200 -' };
  const b = { startedAtMs: t0 + 2100, latencyMs: 30, status: 0, outcome: '0 -' };
  rec.phase(
    'p',
    [a, b].map((r) => ({ source: r, request: r })),
  );
  rec.phase(
    'p',
    [a].map((r) => ({ source: r, request: r })),
  );
  rec.scrape(
    'recipe-api',
    {
      types: {},
      families: new Map(),
      samples: [
        { name: 'm', labels: { x: '1' }, value: 5 },
        { name: 'other', labels: {}, value: 1 },
      ],
    },
    t0 + 500,
  );
  const t = rec.timeline([{ service: 'recipe-api', metric: 'm', labels: {} }], t0 + 3000);
  assert.deepEqual(
    t.perSecond.map((s) => [s.t, s.byOutcome, s.p50]),
    [
      [0, { '200 -': 1 }, 10],
      [1, {}, null],
      [2, { '0 -': 1 }, null],
    ],
  );
  assert.deepEqual(t.scrapes, [{ t: 0.5, service: 'recipe-api', values: { m: 5 } }]);
  assert.deepEqual(t.moments, [{ kind: 'phase', label: 'p', start: 0.1, end: 2.13 }]);
});

test('report pages: the index lists every run with its verdict; the comparison shares axes', async (t) => {
  const { mkdtempSync, rmSync, writeFileSync, readFileSync: read } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { writeReportPage } = await import('../src/report-html/pages.js');
  const dir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-report-pages-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fixed = {
    ...fixture,
    mode: 'fix',
    fixVariant: 'busboy-limits',
    startedAt: '2026-11-23T17:00:00.000Z',
    verdict: { outcome: 'healthy', reasons: [] },
    timeline: { ...fixture.timeline!, perSecond: fixture.timeline!.perSecond.map((b) => ({ ...b, p99: 50 })) },
  };
  writeFileSync(path.join(dir, 'a.json'), JSON.stringify(fixture));
  writeFileSync(path.join(dir, 'b.json'), JSON.stringify(fixed));
  writeFileSync(path.join(dir, 'not-a-run.json'), '{}');
  const index = read(await writeReportPage(dir, undefined), 'utf8');
  assert.match(index, /href="a\.html"/);
  assert.match(index, /INCIDENT/);
  assert.match(index, /HEALTHY/);
  assert.match(index, /2 runs/);
  const compare = read(await writeReportPage(dir, 'upload-oom'), 'utf8');
  const data = JSON.parse(/<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(compare)![1]!);
  assert.deepEqual(data.charts['before-latency'].scale, data.charts['after-latency'].scale);
  assert.ok(data.charts['after-latency'].scale.y[1] >= 740, 'the shared y range covers the larger run');
  await assert.rejects(writeReportPage(dir, 'redis-scan-latency'), /need a run without and one with the fix/);
});
