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

/** Seconds, resolving 1 ms to 10 s (docs/contracts.md). */
export const durationBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Every metric family of both services, created on one registry per process. The names are the
 * contract with dashboards and rules (docs/contracts.md); a service that never observes a family
 * still exports its HELP/TYPE, which is harmless and keeps one definition.
 */
export function createMetrics(service: string) {
  // OpenMetrics content type, so exemplars reach Prometheus (`--enable-feature=exemplar-storage`).
  const registry = new Registry<OpenMetricsContentType>();
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  registry.setDefaultLabels({ service });
  client.collectDefaultMetrics({ register: registry, gcDurationBuckets: [0.0001, 0.001, 0.01, 0.1, 1] });

  const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Histogram<L>({
      name,
      help,
      labelNames,
      buckets: durationBuckets,
      registers: [registry],
      enableExemplars: true,
    });

  let lastElu = performance.eventLoopUtilization();
  new Gauge({
    name: 'nodejs_eventloop_utilization_ratio',
    help: 'Share of time the event loop was busy since the previous scrape (0..1).',
    registers: [registry],
    collect() {
      const now = performance.eventLoopUtilization();
      this.set(performance.eventLoopUtilization(now, lastElu).utilization);
      lastElu = now;
    },
  });

  return {
    registry,
    httpServerDuration: histogram(
      'http_server_request_duration_seconds',
      'HTTP server request duration by method, route template and status code.',
      ['method', 'route', 'status_code'] as const,
    ),
    grpcServerDuration: histogram(
      'grpc_server_handling_seconds',
      'gRPC server call duration by method and status code.',
      ['grpc_method', 'grpc_code'] as const,
    ),
    grpcClientDuration: histogram(
      'grpc_client_handling_seconds',
      'gRPC client call duration by method and status code.',
      ['grpc_method', 'grpc_code'] as const,
    ),
    graphqlOperationDuration: histogram(
      'graphql_operation_duration_seconds',
      'GraphQL operation duration by operation name, type and outcome.',
      ['operation_name', 'operation_type', 'outcome'] as const,
    ),
    upstreamDuration: histogram(
      'upstream_request_duration_seconds',
      'Calls from web-api to recipe-api by protocol, operation and outcome.',
      ['via', 'operation', 'outcome'] as const,
    ),
    redisCommandDuration: histogram(
      'redis_command_duration_seconds',
      'Redis command duration by command and outcome.',
      ['command', 'outcome'] as const,
    ),
    redisConnectionUp: new Gauge({
      name: 'redis_connection_up',
      help: '1 when the Redis client is connected and ready, else 0.',
      registers: [registry],
    }),
    cacheLookups: new Counter({
      name: 'cache_lookups', // exposed as cache_lookups_total (OpenMetrics adds the suffix)
      help: 'Cache lookups by result (hit, miss, error).',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    cacheInvalidationDuration: histogram(
      'cache_invalidation_duration_seconds',
      "Time to invalidate one user's cached views, by strategy (index, scan).",
      ['strategy'] as const,
    ),
    degradedResponses: new Counter({
      name: 'degraded_responses', // exposed as degraded_responses_total
      help: 'Responses served without a dependency (e.g. from the store with Redis down), by reason.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    faultActive: new Gauge({
      name: 'fault_active',
      help: 'Injected fault kinds currently active (1) or not (0).',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
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
