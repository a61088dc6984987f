import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import type { RunReport } from '../src/report.js';
import { renderReportHtml } from '../src/report-html/render.js';
import { reportView } from '../src/report-html/view.js';

/**
 * Opens a report page in Debian's Chromium (never a downloaded browser): no console errors, no
 * request leaves the page, every chart drew its series, the verdict matches the JSON. The
 * screenshot lands in reports/ (git-ignored) for a person to look at.
 */
const chromiumPath = '/usr/bin/chromium';
const here = path.dirname(fileURLToPath(import.meta.url));
const reportsDir = path.resolve(here, '../../reports');
const skip = existsSync(chromiumPath)
  ? false
  : process.env.CI === 'true'
    ? false
    : `${chromiumPath} not installed (apt-get install chromium)`;

test('a report page opens offline, draws every chart and shows the JSON verdict', { skip }, async (t) => {
  const report = JSON.parse(readFileSync(path.join(here, 'fixtures', 'upload-oom-incident.json'), 'utf8')) as RunReport;
  const dir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-report-html-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const file = path.join(dir, 'report.html');
  writeFileSync(file, renderReportHtml(reportView(report)));
  // launch() gives Chromium a fresh temporary profile of its own (no --user-data-dir allowed).
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  const errors: string[] = [];
  const leaving: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.route('**/*', async (route) => {
    const url = route.request().url();
    if (url === pathToFileURL(file).href) return route.continue();
    leaving.push(url);
    return route.abort();
  });
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  const charts = await page.evaluate(() =>
    ((window as unknown as { __reportCharts: { id: string; chart: { data: number[][] } }[] }).__reportCharts ?? []).map(
      (c) => ({ id: c.id, points: c.chart.data[0]!.length, series: c.chart.data.length - 1 }),
    ),
  );
  assert.deepEqual(
    charts.map((c) => c.id),
    ['chart-rate', 'chart-latency', 'chart-metric0'],
  );
  for (const c of charts) assert.ok(c.points > 0 && c.series > 0, `${c.id} drew no data`);
  // The canvas itself has non-background pixels in the series' colours (not an empty plot).
  const painted = await page.evaluate(() => {
    const canvas = document.querySelector('#chart-rate canvas') as HTMLCanvasElement;
    const px = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let blue = 0;
    for (let i = 0; i < px.length; i += 4)
      if (px[i]! < 40 && px[i + 1]! > 90 && px[i + 1]! < 140 && px[i + 2]! > 150) blue++;
    return blue;
  });
  assert.ok(painted > 50, `rate chart has ${painted} pixels of its first series' colour`);
  assert.equal((await page.textContent('#verdict-text'))?.trim(), report.verdict.outcome.toUpperCase());
  assert.deepEqual(errors, []);
  assert.deepEqual(leaving, []);
  mkdirSync(reportsDir, { recursive: true });
  await page.screenshot({ path: path.join(reportsDir, 'report-html-test.png'), fullPage: true });
  await page.setViewportSize({ width: 380, height: 800 });
  await page.screenshot({ path: path.join(reportsDir, 'report-html-test-narrow.png'), fullPage: true });
});
