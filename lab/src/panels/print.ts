import type { PanelRow } from './evaluate.js';

/** A plain-text table of panel rows for the terminal: dashboard, panel, target, series, latest value. */

function formatValue(value: number | null): string {
  if (value === null) return '-';
  if (value === 0 || (Math.abs(value) >= 0.001 && Math.abs(value) < 1e6)) return String(Number(value.toPrecision(4)));
  return value.toExponential(3);
}

function cut(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

export function formatPanelTable(rows: PanelRow[], { panelWidth = 56, showExpr = false } = {}): string {
  const header = ['dashboard', 'panel', 'ref', 'series', 'latest', 'note'];
  const body = rows.map((r) => [
    r.dashboard.replace(/^recipe-mesh \/ /, ''),
    cut(r.panel, panelWidth),
    r.refId,
    r.series === null ? '-' : String(r.series),
    formatValue(r.latestValue),
    r.error ? `ERROR ${r.error}` : r.skipped ? r.skipped.split(':')[0]! : r.series === 0 ? 'EMPTY' : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (i === 5 ? 0 : row[i]!.length))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 5 ? c : i === 3 || i === 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [line(header), line(widths.map((w) => '-'.repeat(w)))];
  rows.forEach((r, i) => {
    out.push(line(body[i]!));
    if (showExpr) out.push(`    ${r.expr}`);
  });
  const run = rows.filter((r) => !r.skipped);
  const withData = run.filter((r) => (r.series ?? 0) > 0).length;
  const empty = run.filter((r) => r.series === 0).length;
  const failed = run.filter((r) => r.error).length;
  const skipped = rows.length - run.length;
  out.push(
    '',
    `${run.length} queries run: ${withData} with data, ${empty} empty, ${failed} failed, ${skipped} skipped (Kubernetes only)`,
  );
  return out.join('\n');
}

/** True when every query that was run returned at least one series and none failed. */
export function allPanelsHaveData(rows: PanelRow[]): boolean {
  return rows.every((r) => !r.error && (r.skipped !== undefined || (r.series ?? 0) > 0));
}
