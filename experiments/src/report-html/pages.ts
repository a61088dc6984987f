import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RunReport } from '../report.js';
import { chartBlocks, page, timelineCharts, verdictText, type ChartSpec } from './render.js';
import { reportView } from './view.js';

/** `npm run experiment -- report [<name>]`: the index of every run, and before/after pages. */

export interface StoredRun {
  /** The JSON file name; its page is the same name with `.html`. */
  file: string;
  report: RunReport;
}

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Every run report under `dir`, newest first; files that are not run reports are skipped. */
export async function readRuns(dir: string): Promise<StoredRun[]> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json'));
  const runs: StoredRun[] = [];
  for (const file of names) {
    try {
      const report = JSON.parse(await readFile(path.join(dir, file), 'utf8')) as RunReport;
      if (typeof report.experiment === 'string' && report.verdict?.outcome) runs.push({ file, report });
    } catch {
      // Not a run report (or half-written): the index lists only what it can read.
    }
  }
  return runs.sort((a, b) => b.report.startedAt.localeCompare(a.report.startedAt));
}

export function renderIndex(runs: readonly StoredRun[]): string {
  const rows = runs
    .map(({ file, report: r }) => {
      const v = reportView(r);
      return `<tr><td><a href="${esc(file.replace(/\.json$/, '.html'))}">${esc(r.experiment)}</a></td><td>${esc(r.mode === 'fix' ? `fix ${r.fixVariant}` : 'incident')}</td><td class="verdict-cell ${v.outcome}">${esc(verdictText(v))}</td><td>${r.expectationHeld ? '✓ held' : '✗ NOT held'}</td><td>${esc(r.startedAt)}</td></tr>`;
    })
    .join('');
  return page(
    'recipe-mesh experiment runs',
    `<h1>Experiment runs</h1><p class="muted">${runs.length} runs, newest first. Open a run for its charts and evidence.</p>
<div class="scroll"><table><thead><tr><th>experiment</th><th>mode</th><th>verdict</th><th>expectation</th><th>started</th></tr></thead><tbody>${rows}</tbody></table></div>`,
    { charts: {} },
  );
}

/** Both runs' charts with one x range and one y range per chart, so the pictures compare. */
function sharedAxes(a: Record<string, ChartSpec>, b: Record<string, ChartSpec>): void {
  for (const key of Object.keys(a)) {
    const other = b[key.replace(/^before-/, 'after-')];
    if (!other) continue;
    const xs = [...a[key]!.x, ...other.x];
    const ys = [...a[key]!.y.flat(), ...other.y.flat()].filter((v): v is number => v !== null);
    const scale = {
      x: [Math.min(0, ...xs), Math.max(1, ...xs)] as [number, number],
      y: [0, Math.max(1, ...ys) * 1.05] as [number, number],
    };
    a[key]!.scale = scale;
    other.scale = scale;
  }
}

export function renderComparison(before: RunReport, after: RunReport): string {
  const vb = reportView(before);
  const va = reportView(after);
  const cb = timelineCharts(vb.timeline, 'before-');
  const ca = timelineCharts(va.timeline, 'after-');
  sharedAxes(cb, ca);
  const column = (title: string, v: typeof vb, charts: Record<string, ChartSpec>, prefix: string) =>
    `<section><h2>${esc(title)}</h2><div class="banner ${v.outcome}"><span class="verdict">${esc(verdictText(v))}</span><span>${esc(v.startedAt)}</span></div>${chartBlocks(charts, prefix)}</section>`;
  return page(
    `${before.experiment}: without vs with the fix`,
    `<h1>${esc(before.title)}</h1><p>Latest run without the fix and with fix <strong>${esc(after.fixVariant ?? '')}</strong>, on the same axes.</p>
<div class="grid">${column('Without the fix', vb, cb, 'before-')}${column(`With fix ${after.fixVariant}`, va, ca, 'after-')}</div>`,
    { charts: { ...cb, ...ca } },
  );
}

/** Writes reports/index.html, or with `experiment` reports/<experiment>-compare.html. Returns the path. */
export async function writeReportPage(dir: string, experiment: string | undefined): Promise<string> {
  const runs = await readRuns(dir);
  if (experiment === undefined) {
    const file = path.join(dir, 'index.html');
    await writeFile(file, renderIndex(runs));
    return file;
  }
  const mine = runs.filter((r) => r.report.experiment === experiment);
  const before = mine.find((r) => r.report.mode === 'incident');
  const after = mine.find((r) => r.report.mode === 'fix');
  if (!before || !after)
    throw new Error(
      `${experiment}: need a run without and one with the fix in ${dir} (run \`npm run experiment -- ${experiment}\` and \`… ${experiment} --fix\`)`,
    );
  const file = path.join(dir, `${experiment}-compare.html`);
  await writeFile(file, renderComparison(before.report, after.report));
  return file;
}
