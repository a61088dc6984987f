/** Latency percentiles and outcome counts from per-request records taken by the load generator. */

/** Nearest-rank percentile (the value below which p% of samples fall); null on no samples. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export interface LatencySummary {
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

export function summarizeLatency(values: readonly number[]): LatencySummary {
  return {
    count: values.length,
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    max: values.length ? Math.max(...values) : null,
  };
}

/** `after / before`, null when either is missing or the baseline is zero. */
export function ratio(after: number | null, before: number | null): number | null {
  if (after === null || before === null || before <= 0) return null;
  return after / before;
}
