import type { Timeline } from '../recording.js';
import { chartAssets } from './assets.js';
import { clientScript } from './client.js';
import type { ReportView } from './view.js';

/**
 * One self-contained HTML page per run (docs/experiments.md, "Reports"): inline styles, uPlot and
 * data, no request leaves the page. Status is never told by colour alone: the banner has a word
 * and a symbol, chart series have dashes and point sizes, windows are hatched.
 */

export interface ChartSpec {
  series: string[];
  x: number[];
  y: (number | null)[][];
  yLabel: string;
  moments: Timeline['moments'];
  scale?: { x?: [number, number]; y?: [number, number] };
}

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const num = (v: number | null | undefined, digits = 1) =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits);

const symbols = { incident: '▲', healthy: '●', inconclusive: '◆' } as const;

export function verdictText(v: Pick<ReportView, 'outcome' | 'repeat'>): string {
  return `${v.outcome.toUpperCase()}${v.repeat ? ` ${v.repeat.k}/${v.repeat.n}` : ''}`;
}

/** Request rate by outcome and p50/p99 per second, and each compared metric per scrape. */
export function timelineCharts(t: Timeline | null, prefix = ''): Record<string, ChartSpec> {
  if (!t) return {};
  const x = t.perSecond.map((b) => b.t);
  const outcomes = [...new Set(t.perSecond.flatMap((b) => Object.keys(b.byOutcome)))].sort();
  const charts: Record<string, ChartSpec> = {
    [`${prefix}rate`]: {
      series: outcomes,
      x,
      y: outcomes.map((o) => t.perSecond.map((b) => b.byOutcome[o] ?? 0)),
      yLabel: 'requests / s',
      moments: t.moments,
    },
    [`${prefix}latency`]: {
      series: ['p50', 'p99'],
      x,
      y: [t.perSecond.map((b) => b.p50), t.perSecond.map((b) => b.p99)],
      yLabel: 'ms',
      moments: t.moments,
    },
  };
  const keys = [...new Set(t.scrapes.flatMap((s) => Object.keys(s.values).map((k) => `${s.service} ${k}`)))];
  keys.forEach((key, i) => {
    const [service, series] = [key.slice(0, key.indexOf(' ')), key.slice(key.indexOf(' ') + 1)];
    const points = t.scrapes.filter((s) => s.service === service && s.values[series] !== undefined);
    charts[`${prefix}metric${i}`] = {
      series: [key],
      x: points.map((p) => p.t),
      y: [points.map((p) => p.values[series]!)],
      yLabel: series.split('{')[0]!,
      moments: t.moments,
    };
  });
  return charts;
}

const table = (head: string[], rows: string[][]) =>
  `<div class="scroll"><table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table></div>`;
const counts = (c: Record<string, number>) =>
  Object.entries(c)
    .map(([k, n]) => `<code>${esc(k)}</code>&nbsp;×${n}`)
    .join(', ') || '(none)';

/** The waterfall as SVG: one bar per span, indented by depth; the proving span is outlined and labelled. */
export function waterfallSvg(trace: NonNullable<ReportView['trace']>): string {
  const spans = trace.spans;
  if (!spans.length) return '';
  const t0 = Math.min(...spans.map((s) => s.startMs));
  const t1 = Math.max(...spans.map((s) => s.startMs + s.durationMs));
  const depth = (s: (typeof spans)[number]): number => {
    const parent = spans.find((p) => p.spanId === s.parentSpanId);
    return parent ? 1 + depth(parent) : 0;
  };
  const ordered = [...spans].sort((a, b) => a.startMs - b.startMs);
  const row = 26;
  const labelW = 300;
  const barW = 500;
  const scale = (ms: number) => ((ms - t0) / Math.max(1e-6, t1 - t0)) * barW;
  const rows = ordered.map((s, i) => {
    const y = i * row + 4;
    const x = labelW + scale(s.startMs);
    const w = Math.max(2, scale(s.startMs + s.durationMs) - scale(s.startMs));
    const label = `${'  '.repeat(depth(s))}${s.service}: ${s.name}`;
    return `<g class="span${s.proves ? ' proves' : ''}"><title>${esc(`${s.service} ${s.name} ${s.durationMs.toFixed(1)} ms`)}</title>
<text x="${4 + depth(s) * 12}" y="${y + 15}">${esc(label.trim())}${s.proves ? ' ◀ proves it' : ''}</text>
<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${row - 8}" rx="2"/>
<text x="${(x + w + 4).toFixed(1)}" y="${y + 15}" class="ms">${s.durationMs.toFixed(1)} ms</text></g>`;
  });
  return `<svg class="waterfall" viewBox="0 0 ${labelW + barW + 90} ${ordered.length * row + 8}" role="img" aria-label="trace waterfall">${rows.join('')}</svg>`;
}

const styles = `
:root{--fg:#1b1b1b;--muted:#555;--bg:#fff;--line:#ddd;--incident:#D55E00;--healthy:#0072B2;--inconclusive:#6b6b6b}
*{box-sizing:border-box}body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;max-width:1100px;padding:1rem}
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.1rem;border-bottom:1px solid var(--line);padding-bottom:.2rem;margin-top:1.6rem}
.banner{border:3px solid;padding:.7rem 1rem;border-radius:6px;display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
.banner .verdict{font-size:1.5rem;font-weight:700}.banner.incident{border-color:var(--incident);background:repeating-linear-gradient(45deg,#fff,#fff 8px,#fbe9dd 8px,#fbe9dd 16px)}
.banner.healthy{border-color:var(--healthy);background:#e6f0f8}.banner.inconclusive{border-color:var(--inconclusive);border-style:dashed}
.muted{color:var(--muted)}code,pre{font:13px/1.4 ui-monospace,Menlo,Consolas,monospace}pre{background:#f5f5f5;padding:.6rem;overflow:auto;white-space:pre-wrap;word-break:break-all}
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid var(--line);padding:.25rem .5rem;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}.chart{width:100%;margin:.5rem 0 1rem}.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:1rem}
.legend-key{display:inline-block;width:1.6em;height:.9em;vertical-align:middle;border:1px solid #999}.k-fault{background:repeating-linear-gradient(45deg,#fbe9dd,#fbe9dd 3px,#f0b48a 3px,#f0b48a 5px)}.k-fix{background:#d6e6f3}
svg.waterfall{width:100%;height:auto;font:12px ui-monospace,monospace}svg .span rect{fill:#56B4E9}svg .span.proves rect{fill:#D55E00;stroke:#000;stroke-width:2;stroke-dasharray:4 2}svg .span.proves text{font-weight:700}svg .ms{fill:var(--muted)}
button{font:inherit;padding:.2rem .8rem;cursor:pointer}.fix-head{display:flex;justify-content:space-between;gap:1rem;align-items:center;flex-wrap:wrap}
@media (max-width:600px){body{padding:.5rem;font-size:14px}.banner .verdict{font-size:1.2rem}}
@media print{button{display:none}body{max-width:none}.chart,svg,table,pre{break-inside:avoid}.banner{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
`;

export function page(title: string, body: string, data: unknown): string {
  const { js, css } = chartAssets();
  // `</` cannot appear inside the JSON script block (it would end it early).
  const json = JSON.stringify(data).replace(/<\//g, '<\\/');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title><style>${css}</style><style>${styles}</style></head>
<body>${body}
<script type="application/json" id="report-data">${json}</script>
<script>${js}</script><script>${clientScript}</script></body></html>
`;
}

export function chartBlocks(charts: Record<string, ChartSpec>, prefix = ''): string {
  const block = (id: string, heading: string) =>
    charts[id]?.x.length
      ? `<figure><figcaption>${esc(heading)}</figcaption><div class="chart" id="chart-${id}" data-chart="${id}"></div></figure>`
      : '';
  const metricIds = Object.keys(charts).filter((k) => k.startsWith(`${prefix}metric`));
  return `<p class="muted">Shaded, hatched: <span class="legend-key k-fault"></span> fault window · <span class="legend-key k-fix"></span> fix window.</p>
${block(`${prefix}rate`, 'Request rate by status and Envoy response flag (per second)')}
${block(`${prefix}latency`, 'Latency p50 and p99 (per second)')}
<div class="grid">${metricIds.map((id) => block(id, `${charts[id]!.series[0]} (per scrape)`)).join('')}</div>`;
}

/** Restore failures, then what reading the state back found (leftovers.ts). */
function cleanup(v: ReportView): string {
  const failed = v.restoreFailures.length
    ? `<p><strong>✗ RESTORE FAILED — check by hand:</strong></p><ul>${v.restoreFailures.map((f) => `<li>${esc(f)}</li>`).join('')}</ul>`
    : '';
  if (!v.leftovers)
    return `${failed}<p id="cleanup">${failed ? '' : '✓ Everything the run changed was restored. '}(This report predates reading the state back.)</p>`;
  const checks = `<ul>${v.leftovers.checks.map((c) => `<li>${c.ok ? '✓' : '<strong>✗ left behind:</strong>'} ${esc(c.what)}: ${esc(c.detail)}</li>`).join('')}</ul>`;
  const summary =
    v.leftovers.clean && !failed
      ? '✓ Everything the run changed was restored, and read back: nothing was left behind.'
      : '✗ Something was left behind.';
  return `${failed}<p id="cleanup">${summary}</p>${checks}`;
}

export function renderReportHtml(v: ReportView): string {
  const charts = timelineCharts(v.timeline);
  const mode = v.mode === 'fix' ? `with fix ${v.fixVariant}` : 'incident (no fix)';
  const body = `
<header><p class="muted">${esc(v.experiment)} · ${esc(mode)} · target ${esc(v.target)} · ${esc(v.startedAt)}</p>
<h1>${esc(v.title)}</h1><p>From: ${esc(v.incident.title)} <span class="muted">(${esc(v.incident.source)})</span></p></header>
<section class="banner ${v.outcome}" aria-label="verdict"><span class="verdict" id="verdict">${symbols[v.outcome]} <span id="verdict-text">${esc(verdictText(v))}</span></span>
<span>Expectation <strong>${v.expectationHeld ? 'held ✓' : 'NOT held ✗'}</strong> (${v.mode === 'fix' ? 'expected healthy' : 'expected the incident'})</span></section>
<h2>Hypothesis</h2><p>${esc(v.hypothesis)}</p>
<h2>Injected</h2><ul>${v.injected.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>
<h2>Verdict reasons</h2><p class="muted">Rule: ${esc(v.verdictRule)}</p><ul>${v.reasons.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>
<h2>Timeline</h2>${v.timeline ? chartBlocks(charts) : '<p class="muted">This run recorded no time series.</p>'}
${
  v.timeline?.moments.length
    ? table(
        ['kind', 'what', 'start s', 'end s'],
        v.timeline.moments.map((m) => [esc(m.kind), esc(m.label), num(m.start, 2), num(m.end, 2)]),
      )
    : ''
}
<h2>Client outcomes per phase</h2>${table(
    ['phase', 'requests', 'p50 ms', 'p99 ms', 'status flags'],
    v.phases.map((p) => [esc(p.phase), `${p.requests}`, num(p.p50), num(p.p99), counts(p.byStatusFlag)]),
  )}
<h2>Signals: baseline vs observed</h2>${table(
    ['signal', 'baseline', 'observed', 'unit'],
    v.signals.map((s) => [esc(s.name), num(s.baseline, 3), num(s.observed, 3), esc(s.unit)]),
  )}
<h2>What the verdict read</h2>${table(
    ['signal', 'value', 'unit', ''],
    v.verdictInputs.map((s) => [
      esc(s.title),
      s.value === null ? '<strong>no data</strong>' : num(s.value, 3),
      esc(s.unit),
      s.required ? 'required' : 'optional',
    ]),
  )}
${
  v.metricDeltas.length
    ? `<h2>Metric deltas</h2>${table(
        ['service', 'series', 'before', 'after', 'delta'],
        v.metricDeltas.map((d) => [
          esc(d.service),
          `<code>${esc(d.series)}</code>`,
          num(d.before, 0),
          num(d.after, 0),
          `${d.delta !== null && d.delta > 0 ? '+' : ''}${num(d.delta, 0)}`,
        ]),
      )}`
    : ''
}
${
  Object.keys(v.accessLogCounts).length
    ? `<h2>Responses by flag per proxy (access logs)</h2>${table(
        ['proxy listener', 'status flags'],
        Object.entries(v.accessLogCounts).map(([who, c]) => [esc(who), counts(c)]),
      )}`
    : ''
}
${v.accessLog.length ? `<h2>Matching access-log lines (${v.accessLog.length})</h2><pre>${v.accessLog.map((l) => `[${esc(l.proxy)}] ${esc(l.raw)}`).join('\n')}</pre>` : ''}
${v.trace ? `<h2>One affected trace</h2><p>${esc(v.trace.why)}</p>${waterfallSvg(v.trace)}` : ''}
${v.findings.length ? `<h2>Findings</h2><ul>${v.findings.map((f) => `<li>${esc(f)}</li>`).join('')}</ul>` : ''}
<h2>Production fix: ${esc(v.fix.name)}</h2><p>${esc(v.fix.summary)}</p>
${v.fix.production.map((c, i) => `<div class="fix-head"><strong>${esc(c.title)}</strong><span class="muted">${esc(c.kind)} · in this repo: <code>${esc(c.repoFile)}</code></span><button type="button" data-copy="fix-${i}">Copy</button></div><pre id="fix-${i}">${esc(c.snippet)}</pre>`).join('')}
<h2>Cleanup check</h2>${cleanup(v)}`;
  return page(`${v.experiment} ${mode}: ${verdictText(v)}`, body, { verdict: verdictText(v), charts });
}
