import { serviceHost } from '@recipe-mesh/lab/mesh/namespace';

/**
 * A small exporter for k8s/test/live-experiments.test.ts: per pod, the series Prometheus scrapes
 * on the minikube platform from the merged metrics endpoint (:15020/stats/prometheus, see
 * k8s/components/observability/prometheus-configmap.yaml): Istio's standard metrics
 * (istio_requests_total with reporter, source_/destination_workload[_namespace], response_code,
 * response_flags; istio.io "Istio Standard Metrics"), Envoy's cluster stats as Istio exports them
 * (envoy_cluster_upstream_rq_retry{cluster_name="outbound|4000||<host>"}) and the apps' own
 * metrics (services/platform/src/metric-catalogue.ts, label `service`). The target labels
 * `namespace`, `pod` and `app` are Prometheus' (its relabelling), not the exporter's.
 *
 * The numbers follow the clock: a quiet baseline until `switchAtMs`, then every experiment's
 * incident at once (503 UC at recipe-api's sidecar, 503 UO and UH at web-api's, both services
 * leaking fds while the ingress logs DC, slow Redis GETs during invalidations, recipe-api's
 * Buffers growing while oversized uploads are accepted, more recipes created than POSTs sent,
 * recipe-api's event loop lagging and busy, the caller waiting past its 1 s budget and getting
 * 504s), so each experiment's PromQL, run one window
 * after the switch, sees its incident, and its "before" (offset) queries see the baseline.
 *
 * It runs as its own process (istio-exporter-main.ts, started by prometheus-fixture.ts): the
 * test's own event loop blocks in kubectl and make, and scrapes must not wait for it.
 */

export interface ExporterClock {
  startMs: number;
  switchAtMs: number;
  /** The namespace of the platform, as Istio labels its workloads. */
  namespace: string;
}

const mib = 1024 * 1024;
const redisBuckets = [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5];
/** Istio's istio_request_duration_milliseconds buckets (a subset). */
const requestMsBuckets = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

type Labels = Record<string, string>;
const line = (name: string, labels: Labels, value: number) =>
  `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}} ${value}`;

/** The metric text one pod of `app` serves at `nowMs`. */
export function podMetrics(app: string, nowMs: number, clock: ExporterClock): string {
  const { namespace } = clock;
  const baselineS = Math.max(0, (Math.min(nowMs, clock.switchAtMs) - clock.startMs) / 1000);
  const incidentS = Math.max(0, (nowMs - clock.switchAtMs) / 1000);
  const seconds = baselineS + incidentS;
  const out: string[] = [];
  const requests = (labels: Labels, value: number) => out.push(line('istio_requests_total', labels, value));
  if (app === 'recipe-api') {
    const inbound = {
      reporter: 'destination',
      source_workload: 'web-api',
      source_workload_namespace: namespace,
      destination_workload: 'recipe-api',
      destination_workload_namespace: namespace,
      destination_service: serviceHost('recipe-api', namespace),
      request_protocol: 'http',
      connection_security_policy: 'mutual_tls',
    };
    out.push('# TYPE istio_requests_total counter');
    requests({ ...inbound, response_code: '200', response_flags: '-' }, Math.round(20 * seconds));
    requests({ ...inbound, response_code: '503', response_flags: 'UC' }, Math.round(incidentS));
    out.push('# TYPE redis_command_duration_seconds histogram');
    // 100 GETs a second; in the incident 5 of them wait behind a SCAN (tens of ms).
    const fast = Math.round(100 * seconds - 5 * incidentS);
    const slow = Math.round(5 * incidentS);
    for (const le of redisBuckets) {
      const count = fast + (le >= 0.05 ? slow : 0);
      out.push(
        line('redis_command_duration_seconds_bucket', { service: 'recipe-api', command: 'get', le: String(le) }, count),
      );
    }
    out.push(
      line('redis_command_duration_seconds_bucket', { service: 'recipe-api', command: 'get', le: '+Inf' }, fast + slow),
    );
    out.push(line('redis_command_duration_seconds_count', { service: 'recipe-api', command: 'get' }, fast + slow));
    out.push(
      line(
        'redis_command_duration_seconds_sum',
        { service: 'recipe-api', command: 'get' },
        fast * 0.0003 + slow * 0.04,
      ),
    );
    out.push('# TYPE cache_invalidation_duration_seconds_count counter');
    out.push(line('cache_invalidation_duration_seconds_count', { service: 'recipe-api' }, Math.round(incidentS)));
    out.push('# TYPE nodejs_external_memory_bytes gauge');
    out.push(line('nodejs_external_memory_bytes', { service: 'recipe-api' }, 20 * mib + 10 * mib * incidentS));
    // Oversized photo uploads accepted (201) while the Buffers grow; none refused with 413.
    out.push('# TYPE http_server_request_duration_seconds_count counter');
    const photo = { service: 'recipe-api', method: 'POST', route: '/recipes/:id/photo', status_code: '201' };
    out.push(line('http_server_request_duration_seconds_count', photo, Math.round(incidentS / 5)));
    out.push('# TYPE process_open_fds gauge');
    out.push(line('process_open_fds', { service: 'recipe-api' }, 40 + Math.floor(incidentS / 2)));
    // Retried POSTs: 1.5 recipes written per client POST once resets are retried.
    out.push('# TYPE recipes_created_total counter');
    out.push(line('recipes_created_total', { service: 'recipe-api' }, Math.round(1.5 * incidentS)));
    // CPU work on the event loop: lag p99 and utilisation up.
    const blocked = nowMs >= clock.switchAtMs;
    out.push('# TYPE nodejs_eventloop_lag_p99_seconds gauge');
    out.push(line('nodejs_eventloop_lag_p99_seconds', { service: 'recipe-api' }, blocked ? 0.07 : 0.01));
    out.push('# TYPE nodejs_eventloop_utilization_ratio gauge');
    out.push(line('nodejs_eventloop_utilization_ratio', { service: 'recipe-api' }, blocked ? 0.4 : 0.1));
  }
  if (app === 'web-api') {
    // web-api's sidecar calling recipe-api: in the incident, circuit-breaker overflows (UO) and
    // no healthy upstream (UH), both 503.
    const outbound = {
      reporter: 'source',
      source_workload: 'web-api',
      source_workload_namespace: namespace,
      destination_workload: 'recipe-api',
      destination_workload_namespace: namespace,
      destination_service: serviceHost('recipe-api', namespace),
      destination_service_name: 'recipe-api',
      request_protocol: 'http',
    };
    out.push('# TYPE istio_requests_total counter');
    requests({ ...outbound, response_code: '200', response_flags: '-' }, Math.round(20 * seconds));
    requests({ ...outbound, response_code: '503', response_flags: 'UO' }, Math.round(incidentS));
    requests({ ...outbound, response_code: '503', response_flags: 'UH' }, Math.round(incidentS));
    out.push('# TYPE envoy_cluster_upstream_rq_retry counter');
    out.push(
      line(
        'envoy_cluster_upstream_rq_retry',
        { cluster_name: `outbound|4000||${serviceHost('recipe-api', namespace)}` },
        Math.round(incidentS),
      ),
    );
    out.push('# TYPE process_open_fds gauge');
    out.push(line('process_open_fds', { service: 'web-api' }, 30 + Math.floor(incidentS)));
    out.push('# TYPE nodejs_active_handles_total gauge');
    out.push(line('nodejs_active_handles_total', { service: 'web-api' }, 12 + Math.floor(incidentS)));
    out.push('# TYPE http_server_request_duration_seconds_count counter');
    const posts = { service: 'web-api', method: 'POST', route: '/api/recipes', status_code: '201' };
    out.push(line('http_server_request_duration_seconds_count', posts, Math.round(incidentS)));
  }
  if (app === 'istio-ingressgateway') {
    out.push('# TYPE istio_requests_total counter');
    const outbound = {
      reporter: 'source',
      source_workload: 'istio-ingressgateway',
      source_workload_namespace: 'istio-system',
      destination_workload: 'web-api',
      destination_workload_namespace: namespace,
      destination_service: serviceHost('web-api', namespace),
      request_protocol: 'http',
    };
    requests({ ...outbound, response_code: '200', response_flags: '-' }, Math.round(5 * seconds));
    requests({ ...outbound, response_code: '0', response_flags: 'DC' }, Math.round(incidentS));
    // Past the caller's budget: 1 request a second waits ~2 s and ends 504.
    requests({ ...outbound, response_code: '504', response_flags: '-' }, Math.round(incidentS));
    out.push('# TYPE istio_request_duration_milliseconds histogram');
    const fast = Math.round(5 * seconds);
    const slow = Math.round(incidentS);
    for (const le of requestMsBuckets)
      out.push(
        line(
          'istio_request_duration_milliseconds_bucket',
          { ...outbound, le: String(le) },
          (le >= 25 ? fast : 0) + (le >= 2500 ? slow : 0),
        ),
      );
    out.push(line('istio_request_duration_milliseconds_bucket', { ...outbound, le: '+Inf' }, fast + slow));
    out.push(line('istio_request_duration_milliseconds_count', outbound, fast + slow));
  }
  return `${out.join('\n')}\n`;
}
