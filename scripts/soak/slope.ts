/** Least-squares slope of `value` over time, per minute: how fast a resource grows under steady load. */
export function slopePerMinute(points: { atMs: number; value: number }[]): number {
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

/** `10m`, `90s`, `600000` (ms) → ms. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!match) throw new Error(`not a duration: ${text} (e.g. 10m, 90s)`);
  const n = Number(match[1]);
  return match[2] === 'm' ? n * 60_000 : match[2] === 's' ? n * 1000 : n;
}
