import autocannon from 'autocannon';

/**
 * Load for the lab and the experiments, on autocannon: a constant rate or a fixed concurrency,
 * optionally in bursts separated by idle gaps (idle gaps are what let keep-alive connections
 * expire between bursts, the 503 UC setup), with one outcome record per request.
 */

export type Via = 'http' | 'graphql' | 'grpc';

export type LoadMode =
  /**
   * autocannon's `overallRate`: a per-second request budget shared by the connections, so
   * requests leave in a small cluster at the start of each second rather than evenly spaced.
   */
  | { kind: 'rate'; requestsPerSecond: number; connections?: number }
  /** Each connection sends its next request as soon as the previous answer arrives. */
  | { kind: 'concurrency'; connections: number };

export interface LoadOptions {
  /** e.g. the lab's `endpoints.publicUrl`. */
  baseUrl: string;
  /** Request path, e.g. `/api/recipes/42`. */
  path: string;
  /** The protocol web-api uses towards recipe-api; added as `?via=`. */
  via?: Via;
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  headers?: Record<string, string>;
  body?: string;
  mode: LoadMode;
  durationMs: number;
  /** Per-request timeout (default 10 s; autocannon counts whole seconds, so it is rounded up); a timeout is recorded with status 0. */
  timeoutMs?: number;
  /** Response header carrying Envoy's %RESPONSE_FLAGS% (the lab's ingress adds it). */
  responseFlagsHeader?: string;
}

export interface OutcomeRecord {
  /** When the request left, ms since the epoch (answer time minus latency). */
  startedAtMs: number;
  /** HTTP status; 0 when no answer came (connection error or timeout). */
  status: number;
  latencyMs: number;
  /** Envoy's response flags from the header, `-` for none, `` when the header was absent. */
  responseFlags: string;
  error: string | null;
  /** Index of the burst the request belongs to (0 without bursts). */
  burst: number;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface LoadSummary {
  requests: number;
  /** Counts by status code ("200", "503", "0" for no answer). */
  byStatus: Record<string, number>;
  /** Counts by Envoy response flags ("-", "UC", "URX,UF"...). */
  byResponseFlags: Record<string, number>;
  errors: number;
  durationMs: number;
  requestsPerSecond: number;
  /** Over every request that got an answer. */
  latencyMs: LatencySummary;
}

export interface LoadResult {
  records: OutcomeRecord[];
  summary: LoadSummary;
}

export const defaultResponseFlagsHeader = 'x-lab-response-flags';

/** Nearest-rank percentile of an ascending list (0 for an empty one). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarizeOutcomes(records: OutcomeRecord[], durationMs: number): LoadSummary {
  const byStatus: Record<string, number> = {};
  const byResponseFlags: Record<string, number> = {};
  for (const r of records) {
    byStatus[String(r.status)] = (byStatus[String(r.status)] ?? 0) + 1;
    if (r.responseFlags) byResponseFlags[r.responseFlags] = (byResponseFlags[r.responseFlags] ?? 0) + 1;
  }
  const latencies = records
    .filter((r) => r.status > 0)
    .map((r) => r.latencyMs)
    .sort((a, b) => a - b);
  const mean = latencies.length ? latencies.reduce((a, b) => a + b, 0) / latencies.length : 0;
  return {
    requests: records.length,
    byStatus,
    byResponseFlags,
    errors: records.filter((r) => r.status === 0).length,
    durationMs,
    requestsPerSecond: durationMs > 0 ? (records.length * 1000) / durationMs : 0,
    latencyMs: {
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? 0,
      mean,
    },
  };
}

function targetPath(options: LoadOptions): string {
  if (!options.via) return options.path;
  const separator = options.path.includes('?') ? '&' : '?';
  return `${options.path}${separator}via=${options.via}`;
}

async function runOnce(options: LoadOptions, burst: number): Promise<OutcomeRecord[]> {
  const flagsHeader = (options.responseFlagsHeader ?? defaultResponseFlagsHeader).toLowerCase();
  const connections =
    options.mode.kind === 'rate'
      ? (options.mode.connections ?? Math.min(10, Math.max(1, options.mode.requestsPerSecond)))
      : options.mode.connections;
  const records: OutcomeRecord[] = [];
  // autocannon calls a request's onResponse and then emits 'response' for the same answer in
  // one synchronous step (lib/httpClient.js), so the headers seen last belong to that response.
  let lastHeaders: Record<string, unknown> | undefined;
  let finish!: (error: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = (error) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve());
  });
  // With a callback autocannon returns its event-emitting instance (without one, a promise).
  const instance = autocannon(
    {
      url: options.baseUrl,
      connections,
      duration: options.durationMs / 1000,
      // autocannon checks for the end of the run once per sample interval (1 s by default), which
      // would round every run up to whole seconds; 100 ms keeps short bursts short.
      sampleInt: 100,
      timeout: Math.max(1, Math.ceil((options.timeoutMs ?? 10_000) / 1000)),
      ...(options.mode.kind === 'rate' ? { overallRate: options.mode.requestsPerSecond } : {}),
      requests: [
        {
          method: options.method ?? 'GET',
          path: targetPath(options),
          ...(options.headers ? { headers: options.headers } : {}),
          ...(options.body !== undefined ? { body: options.body } : {}),
          onResponse: (
            _status: number,
            _body: string,
            _context: object,
            headers: Record<string, unknown> | undefined,
          ) => {
            lastHeaders = headers;
          },
        },
      ],
    },
    (error) => finish(error),
  );
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    const flagsKey = lastHeaders && Object.keys(lastHeaders).find((k) => k.toLowerCase() === flagsHeader);
    const flags = flagsKey ? lastHeaders![flagsKey] : undefined;
    lastHeaders = undefined;
    records.push({
      startedAtMs: Date.now() - responseTime,
      status: statusCode,
      latencyMs: responseTime,
      responseFlags: typeof flags === 'string' ? flags : '',
      error: null,
      burst,
    });
  });
  instance.on('reqError', (error: unknown) => {
    records.push({
      startedAtMs: Date.now(),
      status: 0,
      latencyMs: 0,
      responseFlags: '',
      error: error instanceof Error ? error.message : String(error),
      burst,
    });
  });
  await done;
  return records;
}

/** One load run; resolves when it is over with every request's outcome and a summary. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const started = Date.now();
  const records = await runOnce(options, 0);
  return { records, summary: summarizeOutcomes(records, Date.now() - started) };
}

export interface BurstOptions extends LoadOptions {
  bursts: number;
  /** Idle time between bursts; each burst lasts `durationMs`. */
  idleMs: number;
}

/** `bursts` runs of `durationMs`, `idleMs` apart; records carry their burst index. */
export async function runBursts(options: BurstOptions): Promise<LoadResult & { perBurst: LoadSummary[] }> {
  const started = Date.now();
  const records: OutcomeRecord[] = [];
  const perBurst: LoadSummary[] = [];
  for (let burst = 0; burst < options.bursts; burst++) {
    if (burst > 0) await new Promise((r) => setTimeout(r, options.idleMs));
    const burstStart = Date.now();
    const burstRecords = await runOnce(options, burst);
    records.push(...burstRecords);
    perBurst.push(summarizeOutcomes(burstRecords, Date.now() - burstStart));
  }
  return { records, summary: summarizeOutcomes(records, Date.now() - started), perBurst };
}

/** One line a person reads: count, statuses, flags and latency percentiles. */
export function formatSummary(summary: LoadSummary): string {
  const counts = (o: Record<string, number>) =>
    Object.entries(o)
      .map(([k, v]) => `${k}×${v}`)
      .join(' ');
  const l = summary.latencyMs;
  return (
    `${summary.requests} requests (${summary.requestsPerSecond.toFixed(1)}/s) status ${counts(summary.byStatus)}` +
    (Object.keys(summary.byResponseFlags).length ? ` flags ${counts(summary.byResponseFlags)}` : '') +
    ` latency ms p50 ${l.p50.toFixed(1)} p90 ${l.p90.toFixed(1)} p99 ${l.p99.toFixed(1)} max ${l.max.toFixed(1)}`
  );
}
