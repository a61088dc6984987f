/**
 * The one reader of metric text: a scrape of a service's admin `/metrics` (prom-client serves
 * OpenMetrics with `trace_id` exemplars, docs/contracts.md), Envoy's `/stats/prometheus`, or any
 * Prometheus text exposition; plus comparisons of two scrapes (counter and gauge deltas, quantiles
 * of what a histogram observed between them).
 *
 * Two modes. Lenient (default), for evidence: any line that is not a sample or `# TYPE|HELP` is
 * skipped. Strict, for the contract tests: OpenMetrics 1.0, every line a `# HELP|TYPE|UNIT`
 * descriptor, a sample (`name{labels} value [timestamp] [# {exemplar labels} value [timestamp]]`)
 * or the final `# EOF`, every sample after its family's TYPE; anything else throws naming the line.
 *
 * Hand-written rather than a package: the maintained text-format parsers on npm do not accept
 * OpenMetrics exemplars (`… # {trace_id="…"} 0.003 1.7e9`) or `# EOF`, which our services emit.
 */

export interface Exemplar {
  labels: Record<string, string>;
  value: number;
  timestamp?: number;
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  exemplar?: Exemplar;
}

export interface Family {
  /** The name in `# TYPE` (OpenMetrics counters are declared without `_total`). */
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

export interface Scrape {
  samples: Sample[];
  /** `# TYPE` per family name as written (OpenMetrics counters are declared without `_total`). */
  types: Record<string, string>;
  /** Samples grouped under the family that declared them (samples without a TYPE are in none). */
  families: Map<string, Family>;
}

export interface ParseOptions {
  /** OpenMetrics 1.0 strictly: throw on the first line that is not (see the module comment). */
  strict?: boolean;
}

const metricName = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const labelSet = String.raw`\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\}`;
const numberText = String.raw`[-+]?(?:[0-9.]+(?:[eE][-+]?[0-9]+)?|\+?Inf|NaN)`;
const sampleLine = new RegExp(
  `^(${metricName})(${labelSet})? (${numberText})(?: (${numberText}))?(?: # (${labelSet}) (${numberText})(?: (${numberText}))?)?$`,
);
const descriptor = new RegExp(`^# (HELP|TYPE|UNIT) (${metricName})(?: (.*))?$`);
// Exact name first: prom-client's `nodejs_active_handles_total` is a gauge of its own.
const familySuffixes = ['', '_total', '_created', '_bucket', '_count', '_sum', '_info'];

function parseLabels(text: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  if (!text) return labels;
  const pair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const m of text.slice(1, -1).matchAll(pair)) {
    labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

function parseValue(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  return Number(text);
}

function familyFor(families: Map<string, Family>, sampleName: string): Family | undefined {
  return familySuffixes
    .filter((suffix) => sampleName.endsWith(suffix))
    .map((suffix) => families.get(sampleName.slice(0, sampleName.length - suffix.length)))
    .find(Boolean);
}

export function parseScrape(text: string, options: ParseOptions = {}): Scrape {
  const strict = options.strict ?? false;
  const samples: Sample[] = [];
  const types: Record<string, string> = {};
  const families = new Map<string, Family>();
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (strict && lines.at(-1) !== '# EOF') throw new Error('OpenMetrics exposition must end with "# EOF"');
  lines.forEach((rawLine, index) => {
    const line = strict ? rawLine : rawLine.trim();
    const where = `line ${index + 1}`;
    if (!line) {
      if (strict) throw new Error(`${where} is empty`);
      return;
    }
    if (line === '# EOF') {
      if (strict && index !== lines.length - 1) throw new Error(`${where}: "# EOF" before the end`);
      return;
    }
    if (line.startsWith('#')) {
      const d = descriptor.exec(line);
      if (!d) {
        if (strict) throw new Error(`${where} is not OpenMetrics: ${line}`);
        return;
      }
      const family = families.get(d[2]!) ?? { name: d[2]!, type: 'unknown', help: '', samples: [] };
      if (d[1] === 'TYPE') {
        family.type = d[3] ?? '';
        types[d[2]!] = family.type;
      }
      if (d[1] === 'HELP') family.help = d[3] ?? '';
      families.set(family.name, family);
      return;
    }
    const m = sampleLine.exec(line);
    if (!m) {
      if (strict) throw new Error(`${where} is not OpenMetrics: ${line}`);
      return;
    }
    const sample: Sample = { name: m[1]!, labels: parseLabels(m[2]), value: parseValue(m[3]!) };
    if (m[5]) {
      sample.exemplar = {
        labels: parseLabels(m[5]),
        value: parseValue(m[6]!),
        ...(m[7] ? { timestamp: Number(m[7]) } : {}),
      };
    }
    const family = familyFor(families, sample.name);
    if (strict && !family) throw new Error(`${where}: sample ${sample.name} has no TYPE before it`);
    family?.samples.push(sample);
    samples.push(sample);
  });
  return { samples, types, families };
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
 * Several histograms (cumulative buckets of the same bounds) as one: what `sum by (le)` over
 * their series gives, or their observations taken together.
 */
export function sumHistograms(histograms: readonly (readonly Bucket[])[]): Bucket[] {
  const byLe = new Map<number, number>();
  for (const buckets of histograms) for (const b of buckets) byLe.set(b.le, (byLe.get(b.le) ?? 0) + b.count);
  return [...byLe].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}

/** The family a contract metric name lives in: OpenMetrics counters drop `_total`. */
export function familyOf(scrape: Scrape, name: string): Family | undefined {
  const exact = scrape.families.get(name);
  if (exact) return exact;
  const counter = name.endsWith('_total') ? scrape.families.get(name.slice(0, -'_total'.length)) : undefined;
  return counter?.type === 'counter' ? counter : undefined;
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
