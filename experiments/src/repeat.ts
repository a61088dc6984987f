import type { Outcome } from './definition.js';

/**
 * `--repeat N`: one experiment run N times. A run "reproduced" when its expectation held (the
 * incident seen without a fix, gone with one). The share comes with a 95 % Wilson score interval,
 * so "reproduced 4/5" reads with its uncertainty (Wilson, 1927; it stays inside [0, 1] and behaves
 * for k = 0 or k = N, unlike the normal approximation).
 */

export interface RepeatSummary {
  runs: number;
  reproduced: number;
  /** Outcome of each run in order (`error` when it did not complete). */
  outcomes: (Outcome | 'error')[];
  /** 95 % Wilson interval of the reproduction rate. */
  rate: { point: number; lower: number; upper: number };
}

export function wilsonInterval(successes: number, n: number, z = 1.96): { lower: number; upper: number } {
  if (n === 0) return { lower: 0, upper: 1 };
  const p = successes / n;
  const denominator = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / denominator;
  return { lower: Math.max(0, centre - half), upper: Math.min(1, centre + half) };
}

export function summarizeRepeats(runs: { outcome: Outcome | 'error'; held: boolean }[]): RepeatSummary {
  const reproduced = runs.filter((r) => r.held).length;
  const interval = wilsonInterval(reproduced, runs.length);
  return {
    runs: runs.length,
    reproduced,
    outcomes: runs.map((r) => r.outcome),
    rate: { point: runs.length ? reproduced / runs.length : 0, ...interval },
  };
}

export function formatRepeats(s: RepeatSummary): string {
  const pct = (x: number) => `${Math.round(x * 100)} %`;
  return `reproduced ${s.reproduced}/${s.runs} (95 % interval ${pct(s.rate.lower)}–${pct(s.rate.upper)}): ${s.outcomes.join(', ')}`;
}
