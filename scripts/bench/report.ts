import { type Via, vias } from '@recipe-mesh/platform/request-rules';
import type { ProcessUsage } from './process-usage.js';

/**
 * The rows `make bench` measures and the ratios derived from them. One table of row keys is the
 * source of truth: the bench runs exactly these, the report refuses to build without any of them,
 * and the unit test checks the ratios a script reads (`ratios`, `peakRssMiB`).
 */

export const scenarioDescriptions = {
  B0: 'bare node:http, same JSON',
  E0: 'express 5 hello world (etag off), same JSON',
  P0: "E0 with OpenTelemetry's stock zero-code setup (auto-instrumentations-node/register, defaults, OTLP to the lab's sink)",
  P1: "P0 plus prom-client's default metrics and one pino line per request",
  Y0: 'graphql-yoga hello world, recipe-api schema, same data',
  B1: 'recipe-api REST GET /recipes/42 (cached view, x-user-id)',
  B2: 'recipe-api GraphQL GetRecipe',
  B3: 'recipe-api gRPC GetRecipe, fixed concurrency, from ghz (the grpc-js client where ghz is missing; the row names its tool)',
  B4: 'web-api GET /api/recipes/42?via=… → recipe-api',
  B5: 'B1 and B4 with telemetry off (OTEL_SDK_DISABLED=true)',
  B6: 'B4 through the lab ingress and sidecars',
} as const;
export type Scenario = keyof typeof scenarioDescriptions;

/** How many times the repeat rows drive B4 against the same service processes. */
export const repeatRuns = 5;
/** Largest spread of the repeat rows' peaks, as a share of the lowest, that still counts as flat. */
export const flatRssSpread = 0.1;

/**
 * Every row, by key: `<scenario>[:<via>][:off][:open]`. `B4:<via>:open:b6-rate` runs B4 at the rate
 * of `B6:<via>:open`, so the two open rows differ only by the mesh. `B4:repeat:<n>` drives B4 (each
 * via in turn) again and again against the same processes, for peak RSS across repeated runs.
 */
export const rowKeys = [
  'B0',
  'E0',
  'P0',
  'P1',
  'Y0',
  'B1',
  'B2',
  'B3',
  ...vias.map((v) => `B4:${v}`),
  'B5:B1:off',
  ...vias.map((v) => `B5:B4:${v}:off`),
  ...vias.map((v) => `B6:${v}`),
  ...vias.map((v) => `B4:${v}:open`),
  ...vias.map((v) => `B6:${v}:open`),
  ...vias.map((v) => `B4:${v}:open:b6-rate`),
  ...Array.from({ length: repeatRuns }, (_, i) => `B4:repeat:${i + 1}`),
] as const;

export interface Row {
  key: string;
  scenario: Scenario;
  via: Via | null;
  telemetry: boolean;
  /** closed: fixed concurrency, each connection waits for its answer; open: constant rate. */
  loop: 'closed' | 'open';
  connections: number;
  /** open rows: the rate asked for. */
  targetRps: number | null;
  /** The load generator when a row's may vary (B3: ghz, or the grpc-js client where ghz is missing). */
  loadTool?: string;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  non200: number;
  /** Per process that took part, the bench's own (`load-generator`) included: CPU seconds in the row, peak RSS. */
  processes: Record<string, ProcessUsage>;
}

export interface Machine {
  cores: number;
  cpuModel: string;
  /** The load generator's Node. */
  node: string;
  /** The Node the services and floors ran on: the images' (measure/src/image-node.ts). */
  serviceNode: string;
  date: string;
}

/** null when the baseline row answered nothing (a ratio to zero means nothing). */
type PerVia = Record<Via, number | null>;

export interface BenchReport {
  machine: Machine;
  durationMs: number;
  connections: number;
  rows: Row[];
  ratios: {
    'B1/E0': number | null;
    /** recipe-api against the peers: what the platform costs beside the stock OpenTelemetry setup. */
    'B1/P0': number | null;
    'B1/P1': number | null;
    'B2/Y0': number | null;
    'B3/B1': number | null;
    'B4/B1': PerVia;
    /** Telemetry on / off, req/s: 1 means telemetry costs nothing. */
    B5: { B1: number | null; B4: PerVia };
    'B6/B4': PerVia;
  };
  /** What the mesh adds to p50 at the same constant rate: B6's open row minus B4's at B6's rate, per via. */
  meshAddedP50Ms: Record<Via, number>;
  /** Highest RSS each service reached in any row. */
  peakRssMiB: PerService<number>;
  /** Each repeat row's peak RSS per service, in order, and whether they stayed flat (see flatRssSpread). */
  rssRepeats: PerService<{ peaksMiB: number[]; flat: boolean }>;
}

type PerService<T> = { 'web-api': T; 'recipe-api': T };

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

export function buildReport(input: {
  machine: Machine;
  durationMs: number;
  connections: number;
  rows: Row[];
}): BenchReport {
  const byKey = new Map(input.rows.map((r) => [r.key, r]));
  const missing = rowKeys.filter((k) => !byKey.has(k));
  if (missing.length) throw new Error(`bench rows missing: ${missing.join(', ')}`);
  // Rows in the table's order whatever order the labs ran them in.
  const rows = rowKeys.map((k) => byKey.get(k)!);
  const rps = (key: string) => byKey.get(key)!.requestsPerSecond;
  const ratio = (a: string, b: string) => (rps(b) > 0 ? round(rps(a) / rps(b)) : null);
  const perVia = (f: (via: Via) => number | null): PerVia => Object.fromEntries(vias.map((v) => [v, f(v)])) as PerVia;
  const perViaNumber = (f: (via: Via) => number) =>
    Object.fromEntries(vias.map((v) => [v, f(v)])) as Record<Via, number>;
  const peak = (service: string) => Math.max(0, ...rows.map((r) => r.processes[service]?.peakRssMiB ?? 0));
  const repeats = (service: string) => {
    const peaksMiB = rows
      .filter((r) => r.key.startsWith('B4:repeat:'))
      .map((r) => r.processes[service]?.peakRssMiB ?? 0);
    const lowest = Math.min(...peaksMiB);
    return { peaksMiB, flat: lowest > 0 && Math.max(...peaksMiB) - lowest <= flatRssSpread * lowest };
  };
  return {
    ...input,
    rows,
    ratios: {
      'B1/E0': ratio('B1', 'E0'),
      'B1/P0': ratio('B1', 'P0'),
      'B1/P1': ratio('B1', 'P1'),
      'B2/Y0': ratio('B2', 'Y0'),
      'B3/B1': ratio('B3', 'B1'),
      'B4/B1': perVia((v) => ratio(`B4:${v}`, 'B1')),
      B5: { B1: ratio('B1', 'B5:B1:off'), B4: perVia((v) => ratio(`B4:${v}`, `B5:B4:${v}:off`)) },
      'B6/B4': perVia((v) => ratio(`B6:${v}`, `B4:${v}`)),
    },
    meshAddedP50Ms: perViaNumber((v) =>
      round(byKey.get(`B6:${v}:open`)!.p50 - byKey.get(`B4:${v}:open:b6-rate`)!.p50, 2),
    ),
    peakRssMiB: { 'web-api': peak('web-api'), 'recipe-api': peak('recipe-api') },
    rssRepeats: { 'web-api': repeats('web-api'), 'recipe-api': repeats('recipe-api') },
  };
}

/** One row of the report's Markdown table. */
export function renderRow(r: Row): string {
  const processes = Object.entries(r.processes)
    .map(([name, u]) => `${name} ${u.cpuSeconds.toFixed(1)} s / ${u.peakRssMiB} MiB`)
    .join(', ');
  const load = `${r.loop}${r.targetRps !== null ? ` @${r.targetRps}/s` : ` c${r.connections}`}${r.loadTool ? `, ${r.loadTool}` : ''}`;
  return `| ${r.key} | ${load} | ${r.requestsPerSecond} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.non200} | ${processes} |`;
}

/** The Markdown docs/benchmarks.md keeps for a run: machine, rows, ratios, targets. */
export function renderMarkdown(report: BenchReport): string {
  const { machine, ratios } = report;
  const services = ['web-api', 'recipe-api'] as const;
  const viaCells = (o: Record<Via, number | null>) => vias.map((v) => `${v} ${o[v]}`).join(', ');
  return [
    `${machine.date}: ${machine.cores} cores (${machine.cpuModel}), services and floors on Node ${machine.serviceNode} (the images'), load from Node ${machine.node}, ${report.durationMs / 1000} s per row, ${report.connections} connections for closed-loop rows.`,
    '',
    '| row | load | req/s | p50 ms | p99 ms | non-200 | CPU s / peak RSS per process |',
    '|---|---|---|---|---|---|---|',
    ...report.rows.map(renderRow),
    '',
    '| ratio | value | target |',
    '|---|---|---|',
    `| B1/E0 | ${ratios['B1/E0']} | ≥ 0.25 |`,
    `| B1/P0 | ${ratios['B1/P0']} | — |`,
    `| B1/P1 | ${ratios['B1/P1']} | ≥ 1 |`,
    `| B2/Y0 | ${ratios['B2/Y0']} | ≥ 0.8 |`,
    `| B3/B1 | ${ratios['B3/B1']} | ≥ 1 |`,
    `| B4/B1 | ${viaCells(ratios['B4/B1'])} | ≥ 0.4 each |`,
    `| B5 telemetry on/off | B1 ${ratios.B5.B1}; B4 ${viaCells(ratios.B5.B4)} | B1 ≥ 0.667 (traced ≤ 1.5× untraced), B4 ≥ 0.8 |`,
    `| B6/B4 | ${viaCells(ratios['B6/B4'])} | — |`,
    `| mesh added p50 ms (open loop, B6 and B4 at B6's rate) | ${viaCells(report.meshAddedP50Ms)} | ≤ 1 |`,
    `| peak RSS MiB | web-api ${report.peakRssMiB['web-api']}, recipe-api ${report.peakRssMiB['recipe-api']} | ≤ 150 each |`,
    `| peak RSS MiB, ${repeatRuns} repeated B4 runs | ${services.map((s) => `${s} ${report.rssRepeats[s].peaksMiB.join(' / ')} (${report.rssRepeats[s].flat ? 'flat' : 'not flat'})`).join('; ')} | flat: spread ≤ ${flatRssSpread * 100}% |`,
  ].join('\n');
}
