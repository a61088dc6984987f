import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RunReport } from '../src/report.js';
import { renderReportHtml } from '../src/report-html/render.js';
import { reportView } from '../src/report-html/view.js';
import { launchChromium } from '../src/report-html/browser.js';
import { checkReportPage, chromiumSkipReason } from './report-page-check.js';
import { repoPath } from '@recipe-mesh/measure/repo';

/** A page rendered from recorded evidence; experiments.lab.test.ts checks the pages of real runs. */
const here = path.dirname(fileURLToPath(import.meta.url));
const reportsDir = repoPath('reports');

test('a report page opens offline, draws every chart and shows the JSON verdict', {
  skip: chromiumSkipReason(),
}, async (t) => {
  const report = JSON.parse(readFileSync(path.join(here, 'fixtures', 'upload-oom-incident.json'), 'utf8')) as RunReport;
  const dir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-report-html-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const file = path.join(dir, 'report.html');
  writeFileSync(file, renderReportHtml(reportView(report)));
  const browser = await launchChromium();
  t.after(() => browser.close());
  const { charts } = await checkReportPage(browser, file, report, { dir: reportsDir, name: 'report-html-test' }, 50);
  assert.deepEqual(
    charts.map((c) => c.id),
    ['chart-rate', 'chart-latency', 'chart-metric0'],
  );
});
