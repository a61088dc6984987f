import { formatMs, summarizeLatency, type LatencySummary } from './latency.js';
import { countBy, countOutcomes, formatCounts } from './outcomes.js';

/**
 * One request as every load generator records it (the autocannon load in load.ts, the experiments'
 * single and paced requests), and the one summary of a set of them.
 */
export interface RequestRecord {
  /** When the request left, ms since the epoch. */
  startedAtMs: number;
  /** HTTP status; 0 when no answer came (connection error or timeout). */
  status: number;
  latencyMs: number;
  /** Envoy's response flags from the ingress' header; [] for `-` or no header. */
  flags: string[];
  error: string | null;
  /** Body bytes received (0 when the generator does not count them). */
  bytes: number;
  /** Index of the burst the request belongs to (0 without bursts). */
  burst: number;
}

export interface LoadSummary {
  requests: number;
  /** Counts by status code (`200`, `503`, `0` for no answer). */
  byStatus: Record<string, number>;
  /** Counts by `status flags` (`200 -`, `503 UC`), the access logs' key too (outcomes.ts). */
  byOutcome: Record<string, number>;
  /** Requests that got no answer. */
  errors: number;
  durationMs: number;
  requestsPerSecond: number;
  /** Over every request that got an answer; all null when none did (latency.ts). */
  latencyMs: LatencySummary;
}

/** A span of time in ms since the epoch, both ends included. */
export interface TimeWindow {
  from: number;
  to: number;
}

/** The records whose request left inside `window`. */
export function startedWithin(records: readonly RequestRecord[], window: TimeWindow): RequestRecord[] {
  return records.filter((r) => r.startedAtMs >= window.from && r.startedAtMs <= window.to);
}

/** Counts by status code (`200`, `503`, `0` for no answer), most frequent first. */
export function countByStatus(records: readonly RequestRecord[]): Record<string, number> {
  return countBy(records, (r) => String(r.status));
}

export function summarizeRequests(records: readonly RequestRecord[], durationMs: number): LoadSummary {
  return {
    requests: records.length,
    byStatus: countByStatus(records),
    byOutcome: countOutcomes(records),
    errors: records.filter((r) => r.status === 0).length,
    durationMs,
    requestsPerSecond: durationMs > 0 ? (records.length * 1000) / durationMs : 0,
    latencyMs: summarizeLatency(records.filter((r) => r.status > 0).map((r) => r.latencyMs)),
  };
}

/** One line a person reads: count, rate, outcomes and latency percentiles. */
export function formatSummary(summary: LoadSummary): string {
  const counts = formatCounts(summary.byOutcome);
  const l = summary.latencyMs;
  return (
    `${summary.requests} requests (${summary.requestsPerSecond.toFixed(1)}/s) ${counts}` +
    ` latency ms p50 ${formatMs(l.p50)} p90 ${formatMs(l.p90)} p99 ${formatMs(l.p99)} max ${formatMs(l.max)}`
  );
}
