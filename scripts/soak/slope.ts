export interface Sample {
  atMs: number;
  value: number;
}

/** Least-squares slope of `value` over time, per minute: how fast a resource grows under steady load. */
export function slopePerMinute(points: Sample[]): number {
  if (points.length < 2) return 0;
  const xs = points.map((p) => p.atMs / 60_000);
  const ys = points.map((p) => p.value);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/**
 * The lowest sample of each of `windows` equal spans of time (placed at the span's middle). Heap
 * and RSS climb between garbage collections and drop at each, and fds and handles swing with the
 * requests in flight: the minimum of a span is what survived, the level a leak raises. A slope
 * over every raw sample would mostly measure where in a GC cycle the first and last samples fell.
 */
export function floors(points: Sample[], windows: number): Sample[] {
  if (points.length === 0) return [];
  const from = points[0]!.atMs;
  const span = (points.at(-1)!.atMs - from) / windows;
  if (span <= 0) return [points[0]!];
  const result: Sample[] = [];
  for (let w = 0; w < windows; w++) {
    const inWindow = points.filter((p) => {
      const offset = p.atMs - from;
      return offset >= w * span && (w === windows - 1 ? offset <= (w + 1) * span : offset < (w + 1) * span);
    });
    if (inWindow.length) {
      result.push({ atMs: from + (w + 0.5) * span, value: Math.min(...inWindow.map((p) => p.value)) });
    }
  }
  return result;
}

/** `10m`, `90s`, `600000` (ms) → ms. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!match) throw new Error(`not a duration: ${text} (e.g. 10m, 90s)`);
  const n = Number(match[1]);
  return match[2] === 'm' ? n * 60_000 : match[2] === 's' ? n * 1000 : n;
}
