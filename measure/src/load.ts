import { parseResponseFlags } from './outcomes.js';
import { type LoadSummary, type RequestRecord, summarizeRequests } from './requests.js';
import autocannon from 'autocannon';

/**
 * Load for the lab and the experiments, on autocannon: a constant rate or a fixed concurrency,
 * optionally in bursts separated by idle gaps (idle gaps are what let keep-alive connections
 * expire between bursts, the 503 UC setup), with one outcome record per request.
 */

export type { Via } from '@recipe-mesh/platform/request-rules';
import type { Via } from '@recipe-mesh/platform/request-rules';

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

export interface LoadResult {
  records: RequestRecord[];
  summary: LoadSummary;
}

export const defaultResponseFlagsHeader = 'x-lab-response-flags';

function targetPath(options: LoadOptions): string {
  if (!options.via) return options.path;
  const separator = options.path.includes('?') ? '&' : '?';
  return `${options.path}${separator}via=${options.via}`;
}

async function runOnce(options: LoadOptions, burst: number): Promise<RequestRecord[]> {
  const flagsHeader = (options.responseFlagsHeader ?? defaultResponseFlagsHeader).toLowerCase();
  const connections =
    options.mode.kind === 'rate'
      ? (options.mode.connections ?? Math.min(10, Math.max(1, options.mode.requestsPerSecond)))
      : options.mode.connections;
  const records: RequestRecord[] = [];
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
      flags: parseResponseFlags(typeof flags === 'string' ? flags : null),
      error: null,
      bytes: 0,
      burst,
    });
  });
  instance.on('reqError', (error: unknown) => {
    records.push({
      startedAtMs: Date.now(),
      status: 0,
      latencyMs: 0,
      flags: [],
      error: error instanceof Error ? error.message : String(error),
      bytes: 0,
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
  return { records, summary: summarizeRequests(records, Date.now() - started) };
}

export interface BurstOptions extends LoadOptions {
  bursts: number;
  /** Idle time between bursts; each burst lasts `durationMs`. */
  idleMs: number;
}

/** `bursts` runs of `durationMs`, `idleMs` apart; records carry their burst index. */
export async function runBursts(options: BurstOptions): Promise<LoadResult & { perBurst: LoadSummary[] }> {
  const started = Date.now();
  const records: RequestRecord[] = [];
  const perBurst: LoadSummary[] = [];
  for (let burst = 0; burst < options.bursts; burst++) {
    if (burst > 0) await new Promise((r) => setTimeout(r, options.idleMs));
    const burstStart = Date.now();
    const burstRecords = await runOnce(options, burst);
    records.push(...burstRecords);
    perBurst.push(summarizeRequests(burstRecords, Date.now() - burstStart));
  }
  return { records, summary: summarizeRequests(records, Date.now() - started), perBurst };
}
