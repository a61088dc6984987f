import { performance } from 'node:perf_hooks';
import client, {
  Counter,
  Gauge,
  Histogram,
  Registry,
  type OpenMetricsContentType,
  type LabelValues,
} from 'prom-client';
import { trace, isSpanContextValid } from '@opentelemetry/api';
import { labelNamesOf, metricCatalogue, registeredName, type MetricDefinition } from './metric-catalogue.js';

/** Seconds, resolving 1 ms to 10 s (docs/contracts.md). */
export const durationBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Every metric family of both services, created on one registry per process from
 * metric-catalogue.ts (the contract with dashboards, rules and docs/contracts.md); a service that
 * never observes a family still exports its HELP/TYPE, which is harmless and keeps one definition.
 */
export function createMetrics(service: string) {
  // OpenMetrics content type, so exemplars reach Prometheus (`--enable-feature=exemplar-storage`).
  const registry = new Registry<OpenMetricsContentType>();
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  registry.setDefaultLabels({ service });
  client.collectDefaultMetrics({ register: registry, gcDurationBuckets: [0.0001, 0.001, 0.01, 0.1, 1] });

  const c = metricCatalogue;
  const histogram = <D extends MetricDefinition>(d: D) =>
    new Histogram({
      name: d.name,
      help: d.help,
      labelNames: labelNamesOf(d),
      buckets: durationBuckets,
      registers: [registry],
      enableExemplars: true,
    });
  const gauge = <D extends MetricDefinition>(d: D) =>
    new Gauge({ name: d.name, help: d.help, labelNames: labelNamesOf(d), registers: [registry] });
  const counter = <D extends MetricDefinition>(d: D) =>
    new Counter({ name: registeredName(d), help: d.help, labelNames: labelNamesOf(d), registers: [registry] });

  let lastElu = performance.eventLoopUtilization();
  new Gauge({
    name: c.eventLoopUtilization.name,
    help: c.eventLoopUtilization.help,
    registers: [registry],
    collect() {
      const now = performance.eventLoopUtilization();
      this.set(performance.eventLoopUtilization(now, lastElu).utilization);
      lastElu = now;
    },
  });

  return {
    registry,
    httpServerDuration: histogram(c.httpServerDuration),
    grpcServerDuration: histogram(c.grpcServerDuration),
    grpcClientDuration: histogram(c.grpcClientDuration),
    graphqlOperationDuration: histogram(c.graphqlOperationDuration),
    upstreamDuration: histogram(c.upstreamDuration),
    redisCommandDuration: histogram(c.redisCommandDuration),
    redisConnectionUp: gauge(c.redisConnectionUp),
    cacheLookups: counter(c.cacheLookups),
    cacheInvalidationDuration: histogram(c.cacheInvalidationDuration),
    degradedResponses: counter(c.degradedResponses),
    recipesCreated: counter(c.recipesCreated),
    faultActive: gauge(c.faultActive),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * The Prometheus text format (0.0.4) of an OpenMetrics exposition, for scrapers and tools that do
 * not ask for OpenMetrics (curl, `promtool check metrics`), as docs/contracts.md promises. Not a
 * second registry: prom-client renames counters in place when rendering OpenMetrics
 * (`cache_lookups_total` → family `cache_lookups`), so one registry cannot render both formats.
 * Drops exemplars and `# EOF`, and gives counter descriptors back their `_total` sample name.
 */
export function openMetricsToPrometheusText(openMetrics: string): string {
  const counters = new Set<string>();
  for (const match of openMetrics.matchAll(/^# TYPE (\S+) counter$/gm)) counters.add(match[1]!);
  const lines: string[] = [];
  for (const line of openMetrics.split('\n')) {
    if (line === '# EOF' || line === '') continue;
    const descriptor = /^# (HELP|TYPE) (\S+)( .*)?$/.exec(line);
    if (descriptor) {
      const [, kind, name, rest = ''] = descriptor;
      lines.push(`# ${kind} ${counters.has(name!) ? `${name}_total` : name}${rest}`);
      continue;
    }
    if (line.startsWith('# UNIT')) continue;
    // A sample: `name{labels} value [timestamp] [# {exemplar} value timestamp]`. Label values are
    // quoted, so the exemplar starts at the first ` # {` outside quotes.
    let quoted = false;
    let end = line.length;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (c === '\\') i++;
      else if (c === '"') quoted = !quoted;
      else if (!quoted && c === '#' && line[i - 1] === ' ') {
        end = i - 1;
        break;
      }
    }
    lines.push(line.slice(0, end));
  }
  return `${lines.join('\n')}\n`;
}

/** The exemplar for an observation: the active trace, when there is one. */
export function traceExemplar(): Record<string, string> | undefined {
  const span = trace.getActiveSpan();
  const ctx = span?.spanContext();
  return ctx && isSpanContextValid(ctx) ? { trace_id: ctx.traceId } : undefined;
}

/** Observe a duration with the trace id captured at the start of the operation as exemplar. */
export function observeDuration<L extends string>(
  histogram: Histogram<L>,
  labels: Partial<Record<L, string | number>>,
  seconds: number,
  exemplar: Record<string, string> | undefined,
): void {
  // With enableExemplars, prom-client routes every observe through its exemplar path, which
  // needs the object form (positional arguments throw). Exemplar labels are typed like metric
  // labels; `trace_id` deliberately is not one.
  histogram.observe({ labels, value: seconds, exemplarLabels: (exemplar ?? {}) as LabelValues<L> });
}

/** Start a timer; the returned function observes the elapsed seconds with the start's exemplar. */
export function startDurationTimer<L extends string>(histogram: Histogram<L>) {
  const start = process.hrtime.bigint();
  const exemplar = traceExemplar();
  return (labels: Partial<Record<L, string | number>>) => {
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    observeDuration(histogram, labels, seconds, exemplar);
    return seconds;
  };
}
