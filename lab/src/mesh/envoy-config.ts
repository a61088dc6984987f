import path from 'node:path';
import { istioTextFormat } from '@recipe-mesh/measure/access-log';
import type {
  FaultPolicy,
  ListenerDescription,
  MeshDescription,
  ProxyDescription,
  ProxyName,
  RetryPolicy,
  UpstreamDescription,
} from './description.js';
import { dynamicServices, edsDir, edsFileName, edsTargets, expandListeners, type Workloads } from './endpoints.js';
import { meshNamespace } from '@recipe-mesh/measure/mesh-namespace';

/**
 * Envoy v3 configuration generated from a MeshDescription. Each proxy gets a small static
 * bootstrap (admin, the trace-sink cluster) and its listeners, routes and clusters as
 * file-based xDS (lds.json, cds.json, one rds-<listener>.json per listener), the way istiod
 * delivers them over xDS. Routes are separate RDS resources so a changed retry policy or fault
 * reaches requests on already-open connections, as a VirtualService change does in Istio;
 * cluster changes (idle timeout, circuit breakers, outlier detection) arrive through CDS.
 */

export const traceSinkCluster = 'lab_trace_sink';
const faultFilter = 'envoy.filters.http.fault';
const hcmType = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const faultType = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';

export interface ProxyFiles {
  /** Directory holding this proxy's bootstrap and xDS files (watched for moves by Envoy). */
  configDir: string;
  /** The proxy's access log, Istio's text format. */
  accessLog: string;
}

export const xdsFile = {
  lds: 'lds.json',
  cds: 'cds.json',
  rds: (listener: string) => `rds-${listener}.json`,
  bootstrap: 'bootstrap.json',
};

type Json = Record<string, unknown>;

/** Protobuf JSON duration ("3600s", "0.25s"). */
export function duration(ms: number): string {
  return `${ms / 1000}s`;
}

export function proxyOf(mesh: MeshDescription, name: ProxyName): ProxyDescription {
  const proxy = mesh.proxies.find((p) => p.name === name);
  if (!proxy) throw new Error(`mesh has no proxy ${name}`);
  return proxy;
}

const routeConfigName = (listener: ListenerDescription) => `${listener.name}-routes`;

function percentage(percent: number): Json {
  // Istio renders VirtualService fault percentages over a MILLION denominator.
  return { numerator: Math.round(percent * 10_000), denominator: 'MILLION' };
}

export function faultConfig(fault: FaultPolicy | null): Json {
  const config: Json = { '@type': faultType };
  if (fault?.delay) {
    config.delay = { fixed_delay: duration(fault.delay.fixedDelayMs), percentage: percentage(fault.delay.percent) };
  }
  if (fault?.abort) {
    const abort: Json = { percentage: percentage(fault.abort.percent) };
    if (fault.abort.grpcStatus !== undefined) abort.grpc_status = fault.abort.grpcStatus;
    else abort.http_status = fault.abort.httpStatus ?? 503;
    config.abort = abort;
  }
  return config;
}

export function retryPolicyConfig(
  retries: RetryPolicy,
  direction: ListenerDescription['direction'] = 'outbound',
): Json {
  const policy: Json = { retry_on: retries.retryOn, num_retries: retries.numRetries };
  // As Istio's DefaultPolicy on the caller's side: prefer hosts not tried yet, up to 5 host
  // selections. An inbound route has one host, and istiod gives it neither.
  if (direction !== 'inbound') {
    policy.retry_host_predicate = [
      {
        name: 'envoy.retry_host_predicates.previous_hosts',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate',
        },
      },
    ];
    policy.host_selection_retry_max_attempts = 5;
  }
  if (retries.retriableStatusCodes.length > 0) policy.retriable_status_codes = retries.retriableStatusCodes;
  if (retries.perTryTimeoutMs > 0) policy.per_try_timeout = duration(retries.perTryTimeoutMs);
  return policy;
}

export function routeConfiguration(mesh: MeshDescription, listener: ListenerDescription): Json {
  const timeout = duration(listener.route.timeoutMs);
  const route: Json = {
    cluster: listener.upstream.cluster,
    timeout,
    // As istiod renders them (checked by k8s/test/istiod.test.ts): a caller's route bounds a gRPC
    // deadline header by max_grpc_timeout, the route timeout (0s: unbounded; pilot route.go
    // setTimeout); an inbound route carries max_stream_duration 0s with grpc_timeout_header_max
    // 0s. A route with max_stream_duration uses Envoy's "new timeouts", which ignore `timeout`
    // (envoy router.cc FilterUtility::finalTimeout), so the caller's side must not carry it.
    ...(listener.direction === 'inbound'
      ? { max_stream_duration: { max_stream_duration: timeout, grpc_timeout_header_max: timeout } }
      : { max_grpc_timeout: timeout }),
  };
  if (listener.route.retries) route.retry_policy = retryPolicyConfig(listener.route.retries, listener.direction);
  // VirtualService `headers.request.set`: Istio renders it as the route's request_headers_to_add.
  const setHeaders = Object.entries(listener.route.requestHeaders ?? {}).map(([key, value]) => ({
    header: { key, value },
    append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
  }));
  const virtualHost: Json = {
    name: `${listener.name}-vhost`,
    domains: ['*'],
    routes: [
      {
        name: 'default',
        match: { prefix: '/' },
        decorator: { operation: listener.route.operation },
        route,
        ...(setHeaders.length ? { request_headers_to_add: setHeaders } : {}),
        // VirtualService faults live on the route (typed_per_filter_config), like Istio's.
        ...(listener.route.fault
          ? { typed_per_filter_config: { [faultFilter]: faultConfig(listener.route.fault) } }
          : {}),
      },
    ],
  };
  const config: Json = { name: routeConfigName(listener), virtual_hosts: [virtualHost] };
  if (listener.direction === 'gateway') {
    // The ingress tells each caller its own %RESPONSE_FLAGS%, so load runs can count UC/UF/URX
    // per request without reading logs; the router applies these to its local replies too.
    config.response_headers_to_add = [
      {
        header: { key: mesh.responseFlagsHeader, value: '%RESPONSE_FLAGS%' },
        append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
      },
    ];
  }
  return config;
}

function httpConnectionManager(
  mesh: MeshDescription,
  proxy: ProxyDescription,
  listener: ListenerDescription,
  files: ProxyFiles,
): Json {
  return {
    '@type': hcmType,
    stat_prefix: listener.name,
    codec_type: 'AUTO',
    // Gateways see real clients; sidecars trust the hop before them (Istio's choices).
    use_remote_address: listener.direction === 'gateway',
    rds: {
      route_config_name: routeConfigName(listener),
      config_source: {
        resource_api_version: 'V3',
        path_config_source: {
          path: path.join(files.configDir, xdsFile.rds(listener.name)),
          watched_directory: { path: files.configDir },
        },
      },
    },
    access_log: [
      {
        name: 'envoy.access_loggers.file',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog',
          path: files.accessLog,
          log_format: { text_format_source: { inline_string: istioTextFormat } },
        },
      },
    ],
    // Envoy's OpenTelemetry tracer propagates W3C traceparent, so its spans join the Node
    // services' spans in one trace (envoy api v3 config.trace.v3.OpenTelemetryConfig; the
    // http_service exporter sends OTLP/HTTP protobuf).
    tracing: {
      random_sampling: { value: mesh.tracing.samplingPercent },
      provider: {
        name: 'envoy.tracers.opentelemetry',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig',
          service_name: proxy.serviceName,
          http_service: {
            http_uri: {
              uri: `http://127.0.0.1:${mesh.tracing.collectorPort}/v1/traces`,
              cluster: traceSinkCluster,
              timeout: '1s',
            },
          },
        },
      },
    },
    http_filters: [
      // Always present and empty at the filter level, as Istio installs it; a route turns it on.
      { name: faultFilter, typed_config: faultConfig(null) },
      {
        name: 'envoy.filters.http.router',
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
      },
    ],
  };
}

export function listenerConfig(
  mesh: MeshDescription,
  proxy: ProxyDescription,
  listener: ListenerDescription,
  files: ProxyFiles,
): Json {
  return {
    '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener',
    name: listener.name,
    address: { socket_address: { address: '127.0.0.1', port_value: listener.port } },
    // Span kind and stats direction follow traffic_direction (gateway listeners are outbound).
    traffic_direction: listener.direction === 'inbound' ? 'INBOUND' : 'OUTBOUND',
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: httpConnectionManager(mesh, proxy, listener, files),
          },
        ],
      },
    ],
  };
}

function staticEndpoint(cluster: string, host: string, port: number): Json {
  return {
    cluster_name: cluster,
    endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: host, port_value: port } } } }] }],
  };
}

/**
 * A cluster's upstream cluster. With `edsFile`, its endpoints come from that file-based EDS
 * resource (written by the endpoint controller) instead of the one static endpoint, as Istio's
 * outbound clusters for Kubernetes services are `type: EDS`.
 */
export function clusterConfig(
  upstream: UpstreamDescription,
  edsFile?: { path: string; watchedDir: string },
  direction: ListenerDescription['direction'] = 'outbound',
): Json {
  const inbound = direction === 'inbound';
  const common: Json = { idle_timeout: duration(upstream.idleTimeoutMs) };
  if (upstream.maxRequestsPerConnection > 0) common.max_requests_per_connection = upstream.maxRequestsPerConnection;
  const membership: Json = edsFile
    ? {
        type: 'EDS',
        eds_cluster_config: {
          eds_config: {
            resource_api_version: 'V3',
            path_config_source: { path: edsFile.path, watched_directory: { path: edsFile.watchedDir } },
          },
        },
      }
    : { type: 'STATIC' };
  const cluster: Json = {
    '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
    name: upstream.cluster,
    ...membership,
    connect_timeout: duration(upstream.connectTimeoutMs),
    // Istio's default load balancer for the caller's clusters; an inbound cluster has one endpoint.
    lb_policy: inbound ? 'ROUND_ROBIN' : 'LEAST_REQUEST',
    ...(edsFile ? {} : { load_assignment: staticEndpoint(upstream.cluster, upstream.host, upstream.port) }),
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        common_http_protocol_options: common,
        explicit_http_config:
          upstream.protocol === 'http2' ? { http2_protocol_options: {} } : { http_protocol_options: {} },
      },
    },
    circuit_breakers: {
      thresholds: [
        {
          priority: 'DEFAULT',
          max_connections: upstream.circuitBreakers.maxConnections,
          max_pending_requests: upstream.circuitBreakers.maxPendingRequests,
          max_requests: upstream.circuitBreakers.maxRequests,
          max_retries: upstream.circuitBreakers.maxRetries,
        },
      ],
    },
  };
  const od = upstream.outlierDetection;
  if (od) {
    // Istio enforces only the error kinds a DestinationRule names (100 %), others at 0 %.
    cluster.outlier_detection = {
      consecutive_5xx: od.consecutive5xx,
      enforcing_consecutive_5xx: od.consecutive5xx > 0 ? 100 : 0,
      ...(od.consecutiveGatewayErrors !== undefined
        ? { consecutive_gateway_failure: od.consecutiveGatewayErrors, enforcing_consecutive_gateway_failure: 100 }
        : {}),
      interval: duration(od.intervalMs),
      base_ejection_time: duration(od.baseEjectionTimeMs),
      max_ejection_percent: od.maxEjectionPercent,
      enforcing_success_rate: 0,
    };
    // With every host ejected Istio answers 503 UH instead of routing in panic mode
    // (pilot/pkg/networking/core/cluster_traffic_policy.go: healthy_panic_threshold 0).
    cluster.common_lb_config = { healthy_panic_threshold: { value: 0 } };
  }
  return cluster;
}

function traceSinkClusterConfig(mesh: MeshDescription): Json {
  return {
    name: traceSinkCluster,
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: staticEndpoint(traceSinkCluster, '127.0.0.1', mesh.tracing.collectorPort),
  };
}

export interface ProxyResources {
  listeners: Json[];
  clusters: Json[];
  routes: { listener: string; config: Json }[];
}

/**
 * A proxy's listeners, clusters and routes. `workloads` (the lab's instances) repeats inbound
 * listeners per instance and turns callers' clusters of services with membership into EDS
 * clusters; without it, every service is its one instance on the mesh's ports.
 */
export function proxyResources(
  mesh: MeshDescription,
  name: ProxyName,
  files: ProxyFiles,
  workloads?: Workloads,
): ProxyResources {
  const proxy = proxyOf(mesh, name);
  const listeners = expandListeners(mesh, name, workloads);
  const eds = new Set(
    edsTargets(mesh, dynamicServices(workloads))
      .filter((t) => t.proxy === name)
      .map((t) => t.listener),
  );
  const edsFile = (listener: string) => {
    const watchedDir = edsDir(files.configDir);
    return { path: path.join(watchedDir, edsFileName(listener)), watchedDir };
  };
  return {
    listeners: listeners.map((l) => listenerConfig(mesh, proxy, l, files)),
    clusters: listeners.map((l) =>
      clusterConfig(l.upstream, eds.has(l.name) ? edsFile(l.name) : undefined, l.direction),
    ),
    routes: listeners.map((l) => ({
      listener: l.name,
      config: {
        '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
        ...routeConfiguration(mesh, l),
      },
    })),
  };
}

/** The body of a file-based xDS file (a DiscoveryResponse). */
export function discoveryResponse(version: string, resources: Json[]): Json {
  return { version_info: version, resources };
}

function admin(proxy: ProxyDescription, files: ProxyFiles): Json {
  return {
    address: { socket_address: { address: '127.0.0.1', port_value: proxy.adminPort } },
    access_log: [
      {
        name: 'envoy.access_loggers.file',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog',
          path: path.join(path.dirname(files.accessLog), `${proxy.name}.admin-access.log`),
        },
      },
    ],
  };
}

function node(proxy: ProxyDescription): Json {
  // Istio's node id shape: <type>~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local
  const type = proxy.name === 'ingress' ? 'router' : 'sidecar';
  return {
    id: `${type}~127.0.0.1~${proxy.name}.${meshNamespace}~${meshNamespace}.svc.cluster.local`,
    cluster: proxy.serviceName,
  };
}

/**
 * Runtime: Envoy's OpenTelemetry tracer exports when 5 spans are buffered or every 5 s. A lab wants
 * a request's spans in the sink within a fraction of a second so `lab trace` shows it right after
 * it finishes: a flush every 200 ms, as the services' span processors (OTEL_BSP_SCHEDULE_DELAY).
 * Not a flush per span: that is one OTLP request per span from every proxy, which under load made
 * the trace sink the busiest process in the mesh rows of docs/benchmarks.md and slowed every hop.
 */
const runtime = {
  layers: [
    {
      name: 'lab',
      static_layer: { 'tracing.opentelemetry.min_flush_spans': 512, 'tracing.opentelemetry.flush_interval_ms': 200 },
    },
    { name: 'admin', admin_layer: {} },
  ],
};

/**
 * Stats tags named as Istio's sidecar bootstrap names them (istio/istio
 * tools/packaging/common/envoy_bootstrap.json, `stats_config`: Envoy's default tags off, its own
 * list on), so /stats/prometheus labels a cluster `cluster_name` and a status `response_code`
 * (upstream Envoy: `envoy_cluster_name`, `envoy_response_code`) and one dashboard query reads
 * the lab's Envoys and Istio's sidecars alike. Istio's current regexes expect istiod's stat
 * names, which end a cluster's or listener's name with ";" (`^cluster(\.(.+);)`); the lab's
 * clusters carry no such alt_stat_name, so these are Istio's regexes from before that delimiter,
 * which give the same labels and values (grafana/test/envoy-stats.test.ts compares the two).
 */
export const istioStatsConfig = {
  use_all_default_tags: false,
  stats_tags: [
    { tag_name: 'cluster_name', regex: String.raw`^cluster\.((.+?(\..+?\.svc\.cluster\.local)?)\.)` },
    { tag_name: 'tcp_prefix', regex: String.raw`^tcp\.((.*?)\.)\w+?$` },
    { tag_name: 'response_code', regex: String.raw`_rq(_(\d{3}))$` },
    { tag_name: 'response_code_class', regex: String.raw`_rq(_(\dxx))$` },
    {
      tag_name: 'http_conn_manager_listener_prefix',
      regex: String.raw`^listener(?=\.).*?\.http\.(((?:[_.[:digit:]]*|[_\[\]aAbBcCdDeEfF[:digit:]]*))\.)`,
    },
    {
      tag_name: 'http_conn_manager_prefix',
      regex: String.raw`^http\.(((?:[_.[:digit:]]*|[_\[\]aAbBcCdDeEfF[:digit:]]*))\.)`,
    },
    {
      tag_name: 'listener_address',
      regex: String.raw`^listener\.(((?:[_.[:digit:]]*|[_\[\]aAbBcCdDeEfF[:digit:]]*))\.)`,
    },
  ],
};

/** Bootstrap that reads listeners, clusters and routes from files in `files.configDir`. */
export function dynamicBootstrap(mesh: MeshDescription, name: ProxyName, files: ProxyFiles): Json {
  const proxy = proxyOf(mesh, name);
  const fileSource = (file: string) => ({
    resource_api_version: 'V3',
    path_config_source: { path: path.join(files.configDir, file), watched_directory: { path: files.configDir } },
  });
  return {
    node: node(proxy),
    admin: admin(proxy, files),
    layered_runtime: runtime,
    stats_config: istioStatsConfig,
    static_resources: { clusters: [traceSinkClusterConfig(mesh)] },
    dynamic_resources: { lds_config: fileSource(xdsFile.lds), cds_config: fileSource(xdsFile.cds) },
  };
}

/**
 * The same proxy as one static bootstrap (routes inlined): what `envoy --mode validate`
 * checks, since validation does not read file-based xDS.
 */
export function staticBootstrap(mesh: MeshDescription, name: ProxyName, files: ProxyFiles): Json {
  const proxy = proxyOf(mesh, name);
  const resources = proxyResources(mesh, name, files);
  const listeners = resources.listeners.map((listener, i) => {
    const copy = structuredClone(listener) as Json & { filter_chains: { filters: { typed_config: Json }[] }[] };
    const hcm = copy.filter_chains[0]!.filters[0]!.typed_config;
    delete hcm.rds;
    const { '@type': _type, ...routeConfig } = resources.routes[i]!.config;
    hcm.route_config = routeConfig;
    delete copy['@type'];
    return copy;
  });
  const clusters = resources.clusters.map(({ '@type': _type, ...c }) => c);
  return {
    node: node(proxy),
    admin: admin(proxy, files),
    layered_runtime: runtime,
    stats_config: istioStatsConfig,
    static_resources: { listeners, clusters: [traceSinkClusterConfig(mesh), ...clusters] },
  };
}
