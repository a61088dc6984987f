import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { chromiumPath } from '../src/report-html/browser.js';
import type { RunReport } from '../src/report.js';

/**
 * Opens report pages in Debian's Chromium (../src/report-html/browser.ts) and checks what a person
 * would see: no console errors, no request leaves the page, every chart drew its series, and the
 * verdict matches the JSON. Screenshots land where asked (reports/ is git-ignored).
 */

/** Why the browser tests cannot run here; under CI=true they never skip (a missing browser fails). */
export function chromiumSkipReason(): string | false {
  if (existsSync(chromiumPath) || process.env.CI === 'true') return false;
  return `${chromiumPath} not installed (apt-get install chromium)`;
}

export interface PageCheck {
  charts: { id: string; points: number; series: number }[];
}

export async function checkReportPage(
  browser: Browser,
  file: string,
  report: RunReport,
  screenshot?: { dir: string; name: string },
  /** Pixels of the first series' colour the rate chart must show: a short run draws only a few. */
  minSeriesPixels = 1,
): Promise<PageCheck> {
  const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  try {
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
      (
        (window as unknown as { __reportCharts: { id: string; chart: { data: number[][] } }[] }).__reportCharts ?? []
      ).map((c) => ({ id: c.id, points: c.chart.data[0]!.length, series: c.chart.data.length - 1 })),
    );
    const ids = charts.map((c) => c.id);
    assert.ok(ids.includes('chart-rate') && ids.includes('chart-latency'), `${file}: charts ${ids.join(', ')}`);
    for (const c of charts) assert.ok(c.points > 0 && c.series > 0, `${file}: ${c.id} drew no data`);
    // The canvas itself has pixels in the first series' colour (not an empty plot).
    const painted = await page.evaluate(() => {
      const canvas = document.querySelector('#chart-rate canvas') as HTMLCanvasElement;
      const px = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let blue = 0;
      for (let i = 0; i < px.length; i += 4)
        if (px[i]! < 40 && px[i + 1]! > 90 && px[i + 1]! < 140 && px[i + 2]! > 150) blue++;
      return blue;
    });
    assert.ok(
      painted >= minSeriesPixels,
      `${file}: rate chart has ${painted} pixels of its first series' colour (< ${minSeriesPixels})`,
    );
    assert.equal((await page.textContent('#verdict-text'))?.trim(), report.verdict.outcome.toUpperCase());
    assert.deepEqual(errors, [], `${file}: console errors`);
    assert.deepEqual(leaving, [], `${file}: requests that left the page`);
    if (screenshot) {
      mkdirSync(screenshot.dir, { recursive: true });
      await page.screenshot({ path: path.join(screenshot.dir, `${screenshot.name}.png`), fullPage: true });
      await page.setViewportSize({ width: 380, height: 800 });
      await page.screenshot({ path: path.join(screenshot.dir, `${screenshot.name}-narrow.png`), fullPage: true });
    }
    return { charts };
  } finally {
    await page.close();
  }
}
