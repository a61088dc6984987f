import { execFile } from 'node:child_process';
import path from 'node:path';
import type { LoadSummary } from '@recipe-mesh/measure/requests';
import { childrenCpuSeconds, watchProcesses, type ProcessUsage } from './process-usage.js';

/**
 * Closed-loop gRPC load from ghz (github.com/bojand/ghz, Go): `concurrency` workers over one
 * connection, as web-api's client multiplexes one channel, calling GetRecipe with the repository's
 * proto. A Go client costs the shared cores a fraction of what the grpc-js client does, so B3
 * measures recipe-api rather than its client (docs/benchmarks.md).
 */
export interface GhzOptions {
  ghz: string;
  root: string;
  target: string;
  recipeId: number;
  userId: string;
  concurrency: number;
  durationMs: number;
}

/** ghz's `--format json` report, the fields read here (nanoseconds; status names as grpc-go spells them). */
export interface GhzReport {
  count: number;
  total: number;
  average: number;
  slowest: number;
  rps: number;
  latencyDistribution: { percentage: number; latency: number }[] | null;
  statusCodeDistribution: Record<string, number>;
  errorDistribution: Record<string, number> | null;
}

/**
 * The calls in flight when `--duration` runs out: ghz closes its connection under them and counts
 * each as an error (`Canceled … the client connection is closing` or `Unavailable … use of closed
 * network connection`, bojand/ghz#370). At most one per worker; they are not answers recipe-api
 * failed to give.
 */
const cutAtDeadline = /client connection is closing|use of closed network connection/;

/**
 * ghz's report as the bench's LoadSummary: OK answers count as status 200, anything else as 0,
 * except up to `concurrency` calls cut at the deadline, which are left out.
 */
export function summaryFromGhz(report: GhzReport, concurrency: number): LoadSummary {
  const ok = report.statusCodeDistribution.OK ?? 0;
  const cut = Math.min(
    concurrency,
    Object.entries(report.errorDistribution ?? {})
      .filter(([message]) => cutAtDeadline.test(message))
      .reduce((sum, [, n]) => sum + n, 0),
  );
  const failed = report.count - cut - ok;
  const percentile = (p: number) => {
    const entry = report.latencyDistribution?.find((d) => d.percentage === p);
    return entry ? entry.latency / 1e6 : null;
  };
  const byStatus: Record<string, number> = { ...(ok ? { '200': ok } : {}), ...(failed ? { '0': failed } : {}) };
  return {
    requests: report.count - cut,
    byStatus,
    byOutcome: Object.fromEntries(Object.entries(byStatus).map(([status, n]) => [`${status} -`, n])),
    errors: failed,
    durationMs: report.total / 1e6,
    requestsPerSecond: ((report.count - cut) * 1e9) / report.total,
    latencyMs: {
      count: ok,
      p50: percentile(50),
      p90: percentile(90),
      p99: percentile(99),
      max: ok ? report.slowest / 1e6 : null,
      mean: ok ? report.average / 1e6 : null,
    },
  };
}

/** Runs ghz for `durationMs`; its CPU time (a reaped child's, from this process's counters) and peak RSS. */
export async function ghzUnaryLoad(options: GhzOptions): Promise<{ summary: LoadSummary; usage: ProcessUsage }> {
  const args = [
    '--insecure',
    '--proto',
    path.join(options.root, 'proto/recipes/v1/recipes.proto'),
    '--call',
    'recipes.v1.RecipeService.GetRecipe',
    '--data',
    JSON.stringify({ id: String(options.recipeId) }),
    '--metadata',
    JSON.stringify({ 'x-user-id': options.userId }),
    '--concurrency',
    String(options.concurrency),
    '--connections',
    '1',
    '--duration',
    `${options.durationMs}ms`,
    '--format',
    'json',
    options.target,
  ];
  const cpuBefore = childrenCpuSeconds();
  let watch: ReturnType<typeof watchProcesses> | undefined;
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = execFile(options.ghz, args, { maxBuffer: 16 * 1024 * 1024 }, (error, out, err) => {
      if (error) reject(new Error(`ghz failed: ${error.message}\n${err}`));
      else resolve(out);
    });
    if (child.pid) watch = watchProcesses({ ghz: child.pid });
  });
  const peakRssMiB = watch?.stop().ghz?.peakRssMiB ?? 0;
  const summary = summaryFromGhz(JSON.parse(stdout) as GhzReport, options.concurrency);
  return { summary, usage: { cpuSeconds: childrenCpuSeconds() - cpuBefore, peakRssMiB } };
}
