import { serviceHost } from '@recipe-mesh/measure/mesh-namespace';

/**
 * A small exporter for k8s/test/live-experiments.test.ts: per pod, the series Prometheus scrapes
 * on the minikube platform from the merged metrics endpoint (:15020/stats/prometheus, see
 * k8s/components/observability/prometheus-configmap.yaml): Istio's standard metrics, Envoy's
 * cluster stats as Istio exports them (envoy_cluster_upstream_rq_retry{cluster_name=
 * "outbound|4000||<host>"}) and the apps' own metrics (services/platform/src/metric-catalogue.ts,
 * label `service`). The target labels `namespace`, `pod` and `app` are Prometheus' (its
 * relabelling), not the exporter's.
 *
 * Istio's series are shaped as its stats filter writes them (istio/proxy
 * source/extensions/filters/http/istio_stats/istio_stats.cc): every HTTP series carries the same
 * 25 tags (`istioTagNames`, in the filter's order), and a series exists only once a response with
 * those tags was counted, already at its first count: nothing is exported at 0. A 503 UC that
 * happens once is a series born at 1. Envoy's cluster stats, by contrast, exist from the
 * cluster's creation (at 0), and so do the apps' unlabelled prom-client metrics.
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

/**
 * The tags istio_stats.cc puts on istio_requests_total and istio_request_duration_milliseconds,
 * in its order (the `all_tags_` table; istio.io "Istio Standard Metrics" lists the same labels).
 */
export const istioTagNames = [
  'reporter',
  'source_workload',
  'source_canonical_service',
  'source_canonical_revision',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_cluster',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_cluster',
  'request_protocol',
  'response_code',
  'grpc_response_status',
  'response_flags',
  'connection_security_policy',
] as const;
export type IstioTags = Record<(typeof istioTagNames)[number], string>;

/** A workload as Istio's peer metadata names it: its pod labels `app` and `version` set by k8s/base. */
export interface IstioWorkload {
  name: string;
  namespace: string;
  serviceAccount: string;
}

/** Which sidecar reports a call, from which workload to which (a workload behind a Service). */
export interface IstioHop {
  reporter: 'source' | 'destination';
  source: IstioWorkload;
  destination: IstioWorkload & { service: string };
}

/**
 * One HTTP request's tags. The canonical service and revision fall back to the `app` and
 * `version` labels; source_/destination_cluster is istiod's default CLUSTER_ID, "Kubernetes";
 * grpc_response_status is empty on plain HTTP (Prometheus drops an empty label, as it does for
 * the real sidecar's); a client sidecar does not know the connection's policy ("unknown").
 */
export function istioHttpTags(hop: IstioHop, responseCode: string, responseFlags: string): IstioTags {
  const { source, destination, reporter } = hop;
  const principal = (w: IstioWorkload) => `spiffe://cluster.local/ns/${w.namespace}/sa/${w.serviceAccount}`;
  const versioned = (w: IstioWorkload) => w.name !== 'istio-ingressgateway';
  return {
    reporter,
    source_workload: source.name,
    source_canonical_service: source.name,
    source_canonical_revision: versioned(source) ? 'v1' : 'latest',
    source_workload_namespace: source.namespace,
    source_principal: principal(source),
    source_app: source.name,
    source_version: versioned(source) ? 'v1' : 'unknown',
    source_cluster: 'Kubernetes',
    destination_workload: destination.name,
    destination_workload_namespace: destination.namespace,
    destination_principal: principal(destination),
    destination_app: destination.name,
    destination_version: versioned(destination) ? 'v1' : 'unknown',
    destination_service: serviceHost(destination.service, destination.namespace),
    destination_service_name: destination.service,
    destination_service_namespace: destination.namespace,
    destination_canonical_service: destination.name,
    destination_canonical_revision: versioned(destination) ? 'v1' : 'latest',
    destination_cluster: 'Kubernetes',
    request_protocol: 'http',
    response_code: responseCode,
    grpc_response_status: '',
    response_flags: responseFlags,
    connection_security_policy: reporter === 'destination' ? 'mutual_tls' : 'unknown',
  };
}

/** A counter as a Prometheus text line; nothing until its first event (value 0). */
export function bornAtFirstEvent(name: string, labels: Record<string, string>, value: number): string[] {
  return value > 0 ? [line(name, labels, value)] : [];
}

/** The metric text one pod of `app` serves at `nowMs`. */
export function podMetrics(app: string, nowMs: number, clock: ExporterClock): string {
  const { namespace } = clock;
  const baselineS = Math.max(0, (Math.min(nowMs, clock.switchAtMs) - clock.startMs) / 1000);
  const incidentS = Math.max(0, (nowMs - clock.switchAtMs) / 1000);
  const seconds = baselineS + incidentS;
  const out: string[] = [];
  const requests = (labels: Labels, value: number) =>
    out.push(...bornAtFirstEvent('istio_requests_total', labels, value));
  const workload = (name: string): IstioWorkload => ({ name, namespace, serviceAccount: name });
  const tagsOf = (hop: IstioHop) => (responseCode: string, responseFlags: string) =>
    istioHttpTags(hop, responseCode, responseFlags);
  const [webApi, recipeApi] = [workload('web-api'), workload('recipe-api')];
  const ingress: IstioWorkload = {
    name: 'istio-ingressgateway',
    namespace: 'istio-system',
    serviceAccount: 'istio-ingressgateway-service-account',
  };
  if (app === 'recipe-api') {
    const inbound = tagsOf({
      reporter: 'destination',
      source: webApi,
      destination: { ...recipeApi, service: 'recipe-api' },
    });
    out.push('# TYPE istio_requests_total counter');
    requests(inbound('200', '-'), Math.round(20 * seconds));
    requests(inbound('503', 'UC'), Math.round(incidentS));
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
    out.push(...bornAtFirstEvent('http_server_request_duration_seconds_count', photo, Math.round(incidentS / 5)));
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
    const outbound = tagsOf({
      reporter: 'source',
      source: webApi,
      destination: { ...recipeApi, service: 'recipe-api' },
    });
    out.push('# TYPE istio_requests_total counter');
    // The same sidecar reporting, as the destination, the ingress' calls it passes to web-api.
    const inbound = tagsOf({
      reporter: 'destination',
      source: ingress,
      destination: { ...webApi, service: 'web-api' },
    });
    requests(inbound('200', '-'), Math.round(5 * seconds));
    requests(outbound('200', '-'), Math.round(20 * seconds));
    requests(outbound('503', 'UO'), Math.round(incidentS));
    requests(outbound('503', 'UH'), Math.round(incidentS));
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
    out.push(...bornAtFirstEvent('http_server_request_duration_seconds_count', posts, Math.round(incidentS)));
  }
  if (app === 'istio-ingressgateway') {
    out.push('# TYPE istio_requests_total counter');
    const outbound = tagsOf({ reporter: 'source', source: ingress, destination: { ...webApi, service: 'web-api' } });
    const fast = Math.round(5 * seconds);
    // Past the caller's budget: 1 request a second waits ~2 s and ends 504.
    const slow = Math.round(incidentS);
    requests(outbound('200', '-'), fast);
    // Downloads the caller abandoned: Envoy logs response code 0 with DC.
    const abandoned = Math.round(incidentS);
    requests(outbound('0', 'DC'), abandoned);
    requests(outbound('504', '-'), slow);
    // One histogram per tag set, born with its first observation like the counter.
    out.push('# TYPE istio_request_duration_milliseconds histogram');
    const histogram = (tags: IstioTags, count: number, fromLe: number) => {
      if (count === 0) return;
      for (const le of requestMsBuckets)
        out.push(
          line('istio_request_duration_milliseconds_bucket', { ...tags, le: String(le) }, le >= fromLe ? count : 0),
        );
      out.push(line('istio_request_duration_milliseconds_bucket', { ...tags, le: '+Inf' }, count));
      out.push(line('istio_request_duration_milliseconds_count', tags, count));
    };
    histogram(outbound('200', '-'), fast, 25);
    histogram(outbound('504', '-'), slow, 2500);
    histogram(outbound('0', 'DC'), abandoned, 1000);
  }
  return `${out.join('\n')}\n`;
}
