import { parseScrape, sumOf } from '@recipe-mesh/measure/metric-text';
import type { RequestRecord } from '@recipe-mesh/measure/requests';

/** A counter or gauge on a service's admin /metrics (summed over matching series). */
export async function metric(adminUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  return sumOf(parseScrape(text), name, labels) ?? 0;
}

/** Keeps an outage going for `ms` (the outage's length is the drill's parameter, not a wait for a condition). */
export const holdOutage = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Window {
  from: number;
  to: number;
}

/** Counts by status (0 = no answer) of the requests that left inside `window` (all when omitted). */
export function statusCounts(records: RequestRecord[], window?: Window): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of records) {
    if (window && (r.startedAtMs < window.from || r.startedAtMs > window.to)) continue;
    counts[r.status] = (counts[r.status] ?? 0) + 1;
  }
  return counts;
}

export function maxLatency(records: RequestRecord[], window: Window): number {
  return Math.max(
    0,
    ...records.filter((r) => r.startedAtMs >= window.from && r.startedAtMs <= window.to).map((r) => r.latencyMs),
  );
}

export const format = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([status, n]) => `${status}×${n}`)
    .join(' ');
