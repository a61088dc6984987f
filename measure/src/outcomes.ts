/**
 * Outcome counts by HTTP status and Envoy response flags: the one key every report counts by,
 * whether the outcomes come from the load generator's records or from Envoy's access logs, so
 * the client's view and the mesh's view of a run line up key for key (`200 -`, `503 UC`, `0 DC`).
 */

/** Envoy's `%RESPONSE_FLAGS%` text (`-`, `UC`, `URX,UF`) as a list; [] for `-`, empty or absent. */
export function parseResponseFlags(text: string | null | undefined): string[] {
  if (!text || text === '-') return [];
  return text.split(',').filter(Boolean);
}

/** `200 -`, `503 UC`, `0 DC`: status, then the flags joined by commas (`-` for none). */
export function outcomeKey(status: number, flags: readonly string[]): string {
  return `${status} ${flags.length ? flags.join(',') : '-'}`;
}

/** The flags part of an outcome key alone (`-`, `UC`, `URX,UF`). */
export function flagsKey(flags: readonly string[]): string {
  return flags.length ? flags.join(',') : '-';
}

/** Counts items by `key`, most frequent first (ties keep first-seen order). */
export function countBy<T>(items: Iterable<T>, key: (item: T) => string): Record<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) {
    const k = key(item);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return Object.fromEntries([...counts].sort((a, b) => b[1] - a[1]));
}

/** Counts by `status flags` of anything carrying a status and Envoy's flags. */
export function countOutcomes(items: Iterable<{ status: number; flags: readonly string[] }>): Record<string, number> {
  return countBy(items, (o) => outcomeKey(o.status, o.flags));
}

/** `200×12 503×3`: counts as one line a person reads. */
export function formatCounts(counts: Record<string, number>): string {
  return Object.entries(counts)
    .map(([key, n]) => `${key}×${n}`)
    .join(' ');
}
