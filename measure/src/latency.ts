/**
 * Latency percentiles: the one implementation every report, benchmark and experiment uses.
 *
 * Empty input means "no data", never zero: every statistic of an empty list is `null`, so a
 * run that measured nothing cannot pass for a fast one (experiments turn `null` into an
 * inconclusive verdict, docs/experiments.md). Printers show `null` as `-`.
 */

/** Nearest-rank percentile (the smallest sample with at least p% of samples at or below it); null on no samples. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export interface LatencySummary {
  /** Samples summarized; 0 means every other field is null. */
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

export function summarizeLatency(values: readonly number[]): LatencySummary {
  if (values.length === 0) return { count: 0, p50: null, p90: null, p99: null, max: null, mean: null };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  return {
    count: sorted.length,
    p50: at(50),
    p90: at(90),
    p99: at(99),
    max: sorted.at(-1)!,
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
  };
}

/** `after / before`, null when either is missing or the baseline is zero. */
export function ratio(after: number | null, before: number | null): number | null {
  if (after === null || before === null || before <= 0) return null;
  return after / before;
}

/** A latency for people: `12.3` ms, `-` for no data. */
export function formatMs(value: number | null, digits = 1): string {
  return value === null ? '-' : value.toFixed(digits);
}
