import type { AccessLogEntry } from '@recipe-mesh/measure/access-log';
import { delta, type Scrape } from '@recipe-mesh/measure/metric-text';
import type { RequestRecord } from '@recipe-mesh/measure/requests';
import type { ServiceName } from './definition.js';
import { counterDiff } from './evidence/envoy-stats.js';
import type { ExactReading, K8sSide, Workload } from './k8s-side.js';

/**
 * The exact evidence of a `--target k8s` run, read the way the lab reads its own: every pod's
 * sidecar access log (`kubectl logs pod/<name> -c istio-proxy --since-time=<run start>`, Istio's
 * TEXT format, parsed by measure/src/access-log.ts like the lab's files), every pod's admin
 * /metrics before and after the load (through its own port-forward), and the load's records.
 * PromQL stays what Grafana shows; `compareReadings` puts it beside these counts.
 */

export interface ExactEvidence {
  /** Access-log entries per workload, per pod. */
  accessLogs: Partial<Record<Workload, Record<string, AccessLogEntry[]>>>;
  /** Each pod's Envoy admin counters (`/stats?format=json`) before and after the load, per workload. */
  envoyStats?: Partial<
    Record<Workload, Record<string, { before: Record<string, number>; after: Record<string, number> }>>
  >;
  /** Each pod's /metrics before and after the load, per service. */
  metrics: Partial<Record<ServiceName, Record<string, { before: Scrape; after: Scrape }>>>;
  load: readonly RequestRecord[];
}

/** `kubectl logs --since-time` takes RFC 3339; whole seconds, rounded down, so no line of the run is cut. */
export function sinceTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** The kubectl arguments (after `-n <namespace>`) reading one pod's sidecar log from `sinceMs` on. */
export function sidecarLogArgs(pod: string, sinceMs: number): string[] {
  return ['logs', `pod/${pod}`, '-c', 'istio-proxy', `--since-time=${sinceTime(sinceMs)}`];
}

/** One reading's value from the evidence; null when its source was not read (no pod, no series). */
export function readExact(reading: ExactReading, evidence: ExactEvidence): number | null {
  switch (reading.from) {
    case 'access-log': {
      const pods = evidence.accessLogs[reading.workload];
      if (!pods || Object.keys(pods).length === 0) return null;
      return Object.values(pods).reduce((n, entries) => n + entries.filter(reading.where).length, 0);
    }
    case 'client':
      return reading.reduce(evidence.load);
    case 'envoy-stats': {
      const pods = reading.workloads.flatMap((w) => Object.values(evidence.envoyStats?.[w] ?? {}));
      if (pods.length === 0) return null;
      return pods.reduce((n, p) => n + reading.reduce(counterDiff(p.after, p.before)), 0);
    }
    case 'metric': {
      const pods = Object.values(evidence.metrics[reading.service] ?? {});
      const rises = pods
        .map((p) => delta(p.before, p.after, reading.family, reading.labels ?? {}))
        .filter((v): v is number => v !== null);
      return rises.length === 0 ? null : rises.reduce((a, b) => a + b, 0);
    }
  }
}

export function exactValues(side: K8sSide, evidence: ExactEvidence): Record<string, number | null> {
  return Object.fromEntries(
    Object.entries(side.exact).flatMap(([key, reading]) => (reading ? [[key, readExact(reading, evidence)]] : [])),
  );
}

/** Which workloads' logs and which services' metrics the side's readings need. */
export function sourcesNeeded(side: K8sSide): {
  workloads: Workload[];
  metricServices: ServiceName[];
  envoyStats: { workload: Workload; filter: string }[];
} {
  const readings = Object.values(side.exact).filter((r): r is ExactReading => r !== undefined);
  const envoy = readings.flatMap((r) => (r.from === 'envoy-stats' ? r.workloads.map((w) => `${w} ${r.filter}`) : []));
  return {
    workloads: [...new Set(readings.flatMap((r) => (r.from === 'access-log' ? [r.workload] : [])))].sort(),
    metricServices: [...new Set(readings.flatMap((r) => (r.from === 'metric' ? [r.service] : [])))].sort(),
    envoyStats: [...new Set(envoy)].sort().map((k) => {
      const [workload, filter] = k.split(' ') as [Workload, string];
      return { workload, filter };
    }),
  };
}

/** Envoy admin `/stats?format=json` → counter and gauge values by name (histograms have no single value). */
export function envoyStatValues(json: string): Record<string, number> {
  const body = JSON.parse(json) as { stats?: { name: string; value?: number }[] };
  const out: Record<string, number> = {};
  for (const s of body.stats ?? []) if (typeof s.value === 'number') out[s.name] = s.value;
  return out;
}

/** One signal as the report shows it: the exact count, what Prometheus answered, and whether they agree. */
export interface SignalComparison {
  key: string;
  exact: number | null;
  /** How the exact count was read, in words; null: the signal has no exact reading on this target. */
  exactSource: string | null;
  promql: string | null;
  promqlValue: number | null;
  /** The value the verdict reads: the exact count where there is one, else PromQL's. */
  value: number | null;
  agree: boolean | null;
  note: string | null;
}

/**
 * `increase()` extrapolates to the window's edges and misses a series' first sample, so a PromQL
 * count is near, not equal to, an exact one: they agree within half a request or 10 %. Beyond
 * that the report says so: a count of rare events that PromQL reads as 0 is the usual case.
 */
export function agreement(exact: number, promql: number): boolean {
  return Math.abs(exact - promql) <= Math.max(0.5, 0.1 * Math.abs(exact));
}

export function compareReadings(
  keys: string[],
  side: K8sSide,
  exact: Record<string, number | null>,
  queries: { name: string; promql: string; value: number | null }[],
): SignalComparison[] {
  return keys.map((key) => {
    const reading = side.exact[key];
    const query = queries.find((q) => q.name === key);
    const e = reading ? (exact[key] ?? null) : null;
    const p = query?.value ?? null;
    const both = e !== null && p !== null;
    const agree = both ? agreement(e, p) : null;
    let note: string | null = null;
    if (agree === false)
      note = `PromQL reads ${p}, the exact count ${e}: they disagree; the verdict reads the exact count`;
    else if (reading && e === null) note = 'no exact evidence (no pod or series found); the verdict reads PromQL';
    else if (query && p === null && e !== null) note = 'PromQL has no data (what Grafana shows here)';
    return {
      key,
      exact: e,
      exactSource: reading?.describe ?? null,
      promql: query?.promql ?? null,
      promqlValue: p,
      value: e ?? p,
      agree,
      note,
    };
  });
}
