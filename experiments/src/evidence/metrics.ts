/**
 * Reads a scrape of a service's admin `/metrics` in the Prometheus text format or OpenMetrics
 * (prom-client serves OpenMetrics with `trace_id` exemplars, docs/contracts.md), and compares two
 * scrapes: counter and gauge deltas, and quantiles of what a histogram observed between them.
 *
 * Hand-written rather than a package: the maintained text-format parsers on npm do not accept
 * OpenMetrics exemplars (`… # {trace_id="…"} 0.003 1.7e9`) or `# EOF`, which our services emit.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  samples: Sample[];
  /** `# TYPE` per family name as written (OpenMetrics counters are declared without `_total`). */
  types: Record<string, string>;
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    while (text[i] === ' ' || text[i] === ',') i++;
    const eq = text.indexOf('=', i);
    if (eq < 0) break;
    const name = text.slice(i, eq).trim();
    i = eq + 1;
    if (text[i] !== '"') throw new Error(`label ${name}: value must be quoted`);
    i++;
    let value = '';
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') {
        const next = text[i + 1];
        value += next === 'n' ? '\n' : (next ?? '');
        i += 2;
      } else {
        value += text[i];
        i++;
      }
    }
    i++; // closing quote
    labels[name] = value;
  }
  return labels;
}

function parseValue(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  return Number(text);
}

export function parseScrape(text: string): Scrape {
  const samples: Sample[] = [];
  const types: Record<string, string> = {};
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (!line) continue;
    if (line.startsWith('#')) {
      const m = /^# TYPE (\S+) (\S+)/.exec(line);
      if (m) types[m[1]!] = m[2]!;
      continue;
    }
    // Drop an OpenMetrics exemplar: everything from ` # {` on.
    const exemplarAt = line.indexOf(' # {');
    const sampleText = exemplarAt >= 0 ? line.slice(0, exemplarAt) : line;
    let name: string;
    let labels: Record<string, string> = {};
    let rest: string;
    const brace = sampleText.indexOf('{');
    const space = sampleText.indexOf(' ');
    if (brace >= 0 && (space < 0 || brace < space)) {
      name = sampleText.slice(0, brace);
      const close = sampleText.lastIndexOf('}');
      labels = parseLabels(sampleText.slice(brace + 1, close));
      rest = sampleText.slice(close + 1).trim();
    } else {
      name = sampleText.slice(0, space);
      rest = sampleText.slice(space + 1).trim();
    }
    const value = parseValue(rest.split(/\s+/)[0] ?? '');
    samples.push({ name, labels, value });
  }
  return { samples, types };
}

export type LabelMatcher = Record<string, string>;

const matches = (labels: Record<string, string>, matcher: LabelMatcher) =>
  Object.entries(matcher).every(([k, v]) => labels[k] === v);

/** Sum of every sample of `name` whose labels include `matcher` (like `sum(name{…})`). */
export function sumOf(scrape: Scrape, name: string, matcher: LabelMatcher = {}): number | null {
  let found = false;
  let sum = 0;
  for (const s of scrape.samples) {
    if (s.name === name && matches(s.labels, matcher)) {
      found = true;
      sum += s.value;
    }
  }
  return found ? sum : null;
}

/** `after − before` of a counter or gauge; null when the series is in neither scrape. */
export function delta(before: Scrape, after: Scrape, name: string, matcher: LabelMatcher = {}): number | null {
  const a = sumOf(after, name, matcher);
  if (a === null) return null;
  return a - (sumOf(before, name, matcher) ?? 0);
}

export interface Bucket {
  le: number;
  /** Cumulative count, as exposed. */
  count: number;
}

/** The cumulative buckets of histogram `name` (base name, without `_bucket`), summed over matching series. */
export function histogramBuckets(scrape: Scrape, name: string, matcher: LabelMatcher = {}): Bucket[] {
  const byLe = new Map<number, number>();
  for (const s of scrape.samples) {
    if (s.name !== `${name}_bucket` || !matches(s.labels, matcher)) continue;
    const le = parseValue(s.labels.le ?? '');
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  return [...byLe].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}

/** What a histogram observed between two scrapes (bucket-wise difference, like `increase()`). */
export function histogramDelta(before: Scrape, after: Scrape, name: string, matcher: LabelMatcher = {}): Bucket[] {
  const prior = new Map(histogramBuckets(before, name, matcher).map((b) => [b.le, b.count]));
  return histogramBuckets(after, name, matcher).map((b) => ({ le: b.le, count: b.count - (prior.get(b.le) ?? 0) }));
}

/**
 * Prometheus' `histogram_quantile`: find the bucket holding rank q·total and interpolate
 * linearly inside it (lower bound 0 for the first bucket); a rank in the +Inf bucket answers the
 * highest finite bound. Null when nothing was observed.
 */
export function histogramQuantile(q: number, buckets: readonly Bucket[]): number | null {
  if (buckets.length === 0) return null;
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted[sorted.length - 1]!.count;
  if (!(total > 0)) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const b of sorted) {
    if (b.count >= rank) {
      if (b.le === Infinity) return lowerBound;
      const inBucket = b.count - lowerCount;
      if (inBucket <= 0) return b.le;
      return lowerBound + (b.le - lowerBound) * ((rank - lowerCount) / inBucket);
    }
    lowerBound = b.le;
    lowerCount = b.count;
  }
  return lowerBound;
}

/** Number of observations in a histogram (its +Inf bucket). */
export function histogramCount(buckets: readonly Bucket[]): number {
  return buckets.find((b) => b.le === Infinity)?.count ?? 0;
}

export interface MetricDelta {
  service: string;
  metric: string;
  labels: LabelMatcher;
  before: number | null;
  after: number | null;
  delta: number | null;
}

export function describeDelta(
  service: string,
  before: Scrape,
  after: Scrape,
  metric: string,
  labels: LabelMatcher = {},
): MetricDelta {
  const b = sumOf(before, metric, labels);
  const a = sumOf(after, metric, labels);
  return { service, metric, labels, before: b, after: a, delta: a === null ? null : a - (b ?? 0) };
}
