import { AsyncLocalStorage } from 'node:async_hooks';
import type { Scrape } from '@recipe-mesh/measure/metric-text';

/**
 * Time series of one run, for the HTML report's charts (docs/experiments.md, "Reports"): client
 * outcomes and latency per second, per-scrape values of the metrics the run compared, and when
 * each phase, fault and fix began and ended.
 *
 * The recorder reaches the load and scrape code through AsyncLocalStorage rather than through
 * every experiment's signature: experiments stay unaware of it, and a phase built outside a run
 * (unit tests) records nothing.
 */

/** One request as the recorder keeps it: when, how long, and its `status flags` key. */
export interface RecordedRequest {
  startedAtMs: number;
  latencyMs: number;
  status: number;
  /** `200 -`, `503 UC`… (the key the phase counts use). */
  outcome: string;
}

export interface SecondBucket {
  /** Seconds since the run started (bucket start). */
  t: number;
  /** Requests started in this second by `status flags`. */
  byOutcome: Record<string, number>;
  /** Latency percentiles of the answered requests started in this second; null when none. */
  p50: number | null;
  p99: number | null;
}

export interface ScrapePoint {
  /** Seconds since the run started. */
  t: number;
  service: string;
  /** Value per series, keyed `metric{label="v",…}` as in the report's metric deltas. */
  values: Record<string, number>;
}

/** A series the report charts: like a metric delta, the sum of `metric` over samples with `labels`. */
export interface SeriesSelector {
  service: string;
  metric: string;
  labels: Record<string, string>;
}

export type MomentKind = 'phase' | 'fault' | 'fix';

export interface Moment {
  kind: MomentKind;
  label: string;
  /** Seconds since the run started. */
  start: number;
  end: number;
}

export interface Timeline {
  startedAtMs: number;
  perSecond: SecondBucket[];
  scrapes: ScrapePoint[];
  moments: Moment[];
}

/** `metric{a="1",b="2"}`: the one series key the recorder and the report's deltas share. */
export function seriesKey(metric: string, labels: Record<string, string>): string {
  const inner = Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  return inner ? `${metric}{${inner}}` : metric;
}

function nearestRank(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export class Recorder {
  readonly startedAtMs: number;
  private readonly requests: RecordedRequest[] = [];
  /** A phase may be summarised twice from the same records; each request counts once. */
  private readonly seen = new WeakSet<object>();
  private readonly scrapes: { atMs: number; service: string; scrape: Scrape }[] = [];
  private readonly moments: { kind: MomentKind; label: string; startMs: number; endMs: number | null }[] = [];

  constructor(startedAtMs = Date.now()) {
    this.startedAtMs = startedAtMs;
  }

  /** A load phase's requests (called where a phase is summarised), and the phase's span in time. */
  phase(label: string, records: readonly { source: object; request: RecordedRequest }[]): void {
    let start = Number.POSITIVE_INFINITY;
    let end = Number.NEGATIVE_INFINITY;
    for (const { source, request } of records) {
      start = Math.min(start, request.startedAtMs);
      end = Math.max(end, request.startedAtMs + request.latencyMs);
      if (this.seen.has(source)) continue;
      this.seen.add(source);
      this.requests.push(request);
    }
    if (records.length && !this.moments.some((m) => m.kind === 'phase' && m.label === label))
      this.moments.push({ kind: 'phase', label, startMs: start, endMs: end });
  }

  scrape(service: string, scrape: Scrape, atMs = Date.now()): void {
    this.scrapes.push({ atMs, service, scrape });
  }

  /** Starts a fault or fix window; the returned function ends it. */
  begin(kind: 'fault' | 'fix', label: string, atMs = Date.now()): () => void {
    const moment = { kind, label, startMs: atMs, endMs: null as number | null };
    this.moments.push(moment);
    return (endMs = Date.now()) => {
      moment.endMs ??= endMs;
    };
  }

  /**
   * The recorded series. Scrapes keep only the `series` the report compares (each the sum of the
   * samples whose labels include the given ones, as a metric delta is computed), so a run's JSON
   * stays small; open windows end at `endMs`.
   */
  timeline(series: readonly SeriesSelector[], endMs = Date.now()): Timeline {
    const sec = (ms: number) => Math.round((ms - this.startedAtMs) / 10) / 100;
    const buckets = new Map<number, { byOutcome: Record<string, number>; latencies: number[] }>();
    for (const r of this.requests) {
      const t = Math.floor((r.startedAtMs - this.startedAtMs) / 1000);
      const b = buckets.get(t) ?? { byOutcome: {}, latencies: [] };
      b.byOutcome[r.outcome] = (b.byOutcome[r.outcome] ?? 0) + 1;
      if (r.status > 0) b.latencies.push(r.latencyMs);
      buckets.set(t, b);
    }
    const perSecond: SecondBucket[] = [];
    if (buckets.size) {
      const first = Math.min(...buckets.keys());
      const last = Math.max(...buckets.keys());
      // Empty seconds are kept (zero counts): a gap in the load is part of the picture.
      for (let t = first; t <= last; t++) {
        const b = buckets.get(t);
        const sorted = (b?.latencies ?? []).sort((x, y) => x - y);
        perSecond.push({
          t,
          byOutcome: b?.byOutcome ?? {},
          p50: nearestRank(sorted, 50),
          p99: nearestRank(sorted, 99),
        });
      }
    }
    const scrapes: ScrapePoint[] = this.scrapes.map(({ atMs, service, scrape }) => {
      const values: Record<string, number> = {};
      for (const wanted of series) {
        if (wanted.service !== service) continue;
        let sum: number | null = null;
        for (const s of scrape.samples) {
          if (s.name !== wanted.metric || !Number.isFinite(s.value)) continue;
          if (!Object.entries(wanted.labels).every(([k, v]) => s.labels[k] === v)) continue;
          sum = (sum ?? 0) + s.value;
        }
        if (sum !== null) values[seriesKey(wanted.metric, wanted.labels)] = sum;
      }
      return { t: sec(atMs), service, values };
    });
    return {
      startedAtMs: this.startedAtMs,
      perSecond,
      scrapes: scrapes.filter((s) => Object.keys(s.values).length > 0),
      moments: this.moments
        .map((m) => ({ kind: m.kind, label: m.label, start: sec(m.startMs), end: sec(m.endMs ?? endMs) }))
        .sort((a, b) => a.start - b.start),
    };
  }
}

const current = new AsyncLocalStorage<Recorder>();

/** Runs `fn` with `recorder` receiving what the load and scrape code reports. */
export function withRecorder<T>(recorder: Recorder, fn: () => Promise<T>): Promise<T> {
  return current.run(recorder, fn);
}

/** The recorder of the run in progress, if any. */
export function activeRecorder(): Recorder | undefined {
  return current.getStore();
}
