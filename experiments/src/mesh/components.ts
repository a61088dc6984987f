import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  type FaultPolicy,
  istioDefaultCircuitBreakers,
  istioOutboundRetryPolicy,
  meshConnectTimeoutMs,
  type ListenerPatch,
  type ProxyName,
  type RetryPolicy,
} from '@recipe-mesh/lab/mesh/description';
import { parse } from 'yaml';
import { repoRoot } from '@recipe-mesh/measure/repo';

/**
 * Mesh changes have one home: a kustomize component under `istio/faults/<name>/` that patches the
 * resources of `istio/` (JSON 6902 patches on the DestinationRule / VirtualService / EnvoyFilter
 * by name). `--target k8s` applies the component as `make fault FAULT=<name>` does; the lab gets
 * the same fields through `translateComponent`, so each knob has one value for both targets.
 */

export interface PatchOp {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

export interface ComponentPatch {
  kind: string;
  name: string;
  ops: PatchOp[];
}

/** A lab mesh change: one listener of one proxy, patched (lab/src/mesh/description.ts). */
export interface LabMeshChange {
  proxy: ProxyName;
  listener: string;
  patch: ListenerPatch;
}

export class UnsupportedMeshFieldError extends Error {
  constructor(component: string, patch: ComponentPatch, op: PatchOp) {
    super(
      `istio/faults/${component}: ${patch.kind}/${patch.name} ${op.op} ${op.path} has no lab equivalent; ` +
        `supported: ${supportedFields.join(', ')} (experiments/src/mesh/components.ts)`,
    );
    this.name = 'UnsupportedMeshFieldError';
  }
}

export function componentDir(name: string, root = repoRoot): string {
  return path.join(root, 'istio/faults', name);
}

/** The patches of `istio/faults/<name>/kustomization.yaml`, parsed. */
export function readComponent(name: string, root = repoRoot): ComponentPatch[] {
  const file = path.join(componentDir(name, root), 'kustomization.yaml');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new Error(`no mesh component istio/faults/${name} (${path.relative(root, file)} is missing)`);
  }
  const doc = parse(text) as {
    kind?: string;
    components?: string[];
    patches?: { target?: { kind?: string; name?: string }; patch?: string }[];
  };
  if (doc.kind !== 'Component') throw new Error(`istio/faults/${name} is not a kustomize Component`);
  // A component may build on others (`components: [../timeout-budget]`), as kustomize applies
  // them: theirs first, then its own patches. `make fault` takes one component per run.
  const included = (doc.components ?? []).flatMap((relative) => {
    const dir = path.resolve(componentDir(name, root), relative);
    if (path.dirname(dir) !== path.join(root, 'istio/faults'))
      throw new Error(`istio/faults/${name}: included component ${relative} is not in istio/faults`);
    return readComponent(path.basename(dir), root);
  });
  return [
    ...included,
    ...(doc.patches ?? []).map((p) => {
      if (!p.target?.kind || !p.target.name || typeof p.patch !== 'string')
        throw new Error(`istio/faults/${name}: every patch needs target.kind, target.name and a JSON 6902 patch`);
      return { kind: p.target.kind, name: p.target.name, ops: parse(p.patch) as PatchOp[] };
    }),
  ];
}

/** Istio durations (`250ms`, `3s`, `1h`, `1m30s`) in milliseconds. */
export function durationMs(value: unknown): number {
  if (typeof value !== 'string' || !/^(\d+(\.\d+)?(h|ms|m|s))+$/.test(value))
    throw new Error(`not an Istio duration: ${JSON.stringify(value)}`);
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let total = 0;
  for (const m of value.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s)/g)) total += Number(m[1]) * unit[m[2]!]!;
  return total;
}

const wholeNumber = (field: string, value: unknown): number => {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
    throw new Error(`${field} must be a whole number ≥ 0, got ${JSON.stringify(value)}`);
  return value;
};

/** The object at a field, refusing keys the lab has no translation for (they would be dropped silently). */
function fields(where: string, value: unknown, known: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`${where} must be an object, got ${JSON.stringify(value)}`);
  const unknown = Object.keys(value).filter((k) => !known.includes(k));
  if (unknown.length)
    throw new Error(`${where}: ${unknown.join(', ')} has no lab equivalent; supported: ${known.join(', ')}`);
  return value as Record<string, unknown>;
}

/** web-api's sidecar listeners towards recipe-api: the client side, where Istio's circuit breaking acts. */
const recipeApiOutbound = ['outbound-recipe-api-http', 'outbound-recipe-api-grpc'];
const outbound = (patch: ListenerPatch): LabMeshChange[] =>
  recipeApiOutbound.map((listener) => ({ proxy: 'web-api-sidecar', listener, patch }));
/** recipe-api's sidecar listeners to its app, one per Service port. */
const inbound = (patch: ListenerPatch): LabMeshChange[] =>
  ['inbound-http', 'inbound-grpc'].map((listener) => ({ proxy: 'recipe-api-sidecar', listener, patch }));
/**
 * A DestinationRule's connectionPool programs the caller's outbound clusters and the server
 * sidecar's inbound clusters alike (istio/istio pilot/pkg/networking/core/cluster_builder.go,
 * buildInboundCluster: "circuit breakers ... need to be set on the receiver end"; checked
 * against istiod by k8s/test/istiod.test.ts).
 */
const bothEnds = (patch: ListenerPatch): LabMeshChange[] => [...outbound(patch), ...inbound(patch)];

/**
 * A whole `connectionPool`, replacing the base one: tcp.maxConnections → max_connections,
 * http1MaxPendingRequests → max_pending_requests, http2MaxRequests → max_requests (an unset one
 * is Istio's 2^32-1), connectTimeout (unset: meshConfig's 10 s), idleTimeout (unset: 1 h) and
 * maxRequestsPerConnection (unset: unlimited), on both ends.
 */
function connectionPool(value: unknown): LabMeshChange[] {
  const pool = fields('connectionPool', value, ['tcp', 'http']);
  const tcp =
    pool.tcp === undefined ? {} : fields('connectionPool.tcp', pool.tcp, ['maxConnections', 'connectTimeout']);
  const http =
    pool.http === undefined
      ? {}
      : fields('connectionPool.http', pool.http, [
          'http1MaxPendingRequests',
          'http2MaxRequests',
          'maxRequestsPerConnection',
          'idleTimeout',
        ]);
  const limit = (field: string, v: unknown, fallback: number) => (v === undefined ? fallback : wholeNumber(field, v));
  return bothEnds({
    upstream: {
      circuitBreakers: {
        ...istioDefaultCircuitBreakers,
        maxConnections: limit('tcp.maxConnections', tcp.maxConnections, istioDefaultCircuitBreakers.maxConnections),
        maxPendingRequests: limit(
          'http.http1MaxPendingRequests',
          http.http1MaxPendingRequests,
          istioDefaultCircuitBreakers.maxPendingRequests,
        ),
        maxRequests: limit('http.http2MaxRequests', http.http2MaxRequests, istioDefaultCircuitBreakers.maxRequests),
      },
      connectTimeoutMs: tcp.connectTimeout === undefined ? meshConnectTimeoutMs : durationMs(tcp.connectTimeout),
      idleTimeoutMs: http.idleTimeout === undefined ? 3_600_000 : durationMs(http.idleTimeout),
      maxRequestsPerConnection: limit('http.maxRequestsPerConnection', http.maxRequestsPerConnection, 0),
    },
  });
}

/** `outlierDetection` on the client sidecar's clusters, in Envoy's terms. */
function outlierDetection(value: unknown): LabMeshChange[] {
  const od = fields('outlierDetection', value, [
    'consecutive5xxErrors',
    'interval',
    'baseEjectionTime',
    'maxEjectionPercent',
  ]);
  return outbound({
    upstream: {
      outlierDetection: {
        consecutive5xx: wholeNumber('consecutive5xxErrors', od.consecutive5xxErrors ?? 5),
        intervalMs: durationMs(od.interval ?? '10s'),
        baseEjectionTimeMs: durationMs(od.baseEjectionTime ?? '30s'),
        maxEjectionPercent: wholeNumber('maxEjectionPercent', od.maxEjectionPercent ?? 10),
      },
    },
  });
}

/** VirtualService `recipe-api`'s first route (port 4000, REST + GraphQL): web-api's sidecar outbound HTTP route. */
const restRoute = (patch: ListenerPatch): LabMeshChange[] => [
  { proxy: 'web-api-sidecar', listener: 'outbound-recipe-api-http', patch },
];
/** VirtualService `recipe-api`'s second route (port 4001, gRPC): web-api's sidecar outbound gRPC route. */
const grpcRoute = (patch: ListenerPatch): LabMeshChange[] => [
  { proxy: 'web-api-sidecar', listener: 'outbound-recipe-api-grpc', patch },
];
/** VirtualService `web-api-ingress`'s route: the ingress gateway's route to web-api. */
const gatewayRoute = (patch: ListenerPatch): LabMeshChange[] => [{ proxy: 'ingress', listener: 'gateway-http', patch }];

/**
 * A route's `retries` in Envoy's terms (Istio's HTTPRetry): `attempts` is the number of retries
 * (Envoy num_retries), `perTryTimeout` each try's timeout, `retryOn` Envoy's conditions where
 * bare status codes become `retriable-status-codes`. An unset `retryOn` keeps Istio's default
 * conditions (istioOutboundRetryPolicy).
 */
function retries(value: unknown): RetryPolicy {
  const r = fields('retries', value, ['attempts', 'perTryTimeout', 'retryOn']);
  const retryOn = r.retryOn ?? istioOutboundRetryPolicy().retryOn;
  if (typeof retryOn !== 'string') throw new Error(`retries.retryOn must be a string, got ${JSON.stringify(retryOn)}`);
  const conditions = retryOn
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  const codes = conditions.filter((c) => /^\d{3}$/.test(c)).map(Number);
  const named = conditions.filter((c) => !/^\d{3}$/.test(c) && c !== 'retriable-status-codes');
  return {
    retryOn: [...named, ...(codes.length ? ['retriable-status-codes'] : [])].join(','),
    numRetries: wholeNumber('retries.attempts', r.attempts ?? 2),
    retriableStatusCodes: codes,
    perTryTimeoutMs: r.perTryTimeout === undefined ? 0 : durationMs(r.perTryTimeout),
  };
}

/** gRPC status names Istio accepts in `abort.grpcStatus`, as Envoy's numeric codes. */
const grpcCodes: Record<string, number> = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

function percent(where: string, value: unknown): number {
  const p = fields(where, value ?? {}, ['value']);
  if (typeof p.value !== 'number' || p.value < 0 || p.value > 100)
    throw new Error(`${where}.value must be a percentage, got ${JSON.stringify(p.value)}`);
  return p.value;
}

/** A route's `fault` (Istio's HTTPFaultInjection): a fixed delay and/or an abort, each on a percentage. */
function faultPolicy(value: unknown): FaultPolicy {
  const f = fields('fault', value, ['delay', 'abort']);
  const policy: FaultPolicy = {};
  if (f.delay !== undefined) {
    const d = fields('fault.delay', f.delay, ['fixedDelay', 'percentage']);
    policy.delay = { fixedDelayMs: durationMs(d.fixedDelay), percent: percent('fault.delay.percentage', d.percentage) };
  }
  if (f.abort !== undefined) {
    const a = fields('fault.abort', f.abort, ['httpStatus', 'grpcStatus', 'percentage']);
    const abortPercent = percent('fault.abort.percentage', a.percentage);
    if (a.grpcStatus !== undefined) {
      const code = typeof a.grpcStatus === 'string' ? grpcCodes[a.grpcStatus] : undefined;
      if (code === undefined)
        throw new Error(`fault.abort.grpcStatus: unknown gRPC status ${JSON.stringify(a.grpcStatus)}`);
      policy.abort = { grpcStatus: code, percent: abortPercent };
    } else policy.abort = { httpStatus: wholeNumber('fault.abort.httpStatus', a.httpStatus), percent: abortPercent };
  }
  return policy;
}

/** A route's `headers` (Istio's Headers): only `request.set`, which the lab's route sets on every request. */
function requestHeadersSet(value: unknown): Record<string, string> {
  const headers = fields('headers', value, ['request']);
  const request = fields('headers.request', headers.request ?? {}, ['set']);
  const set = fields('headers.request.set', request.set ?? {}, Object.keys(request.set ?? {}));
  for (const [name, v] of Object.entries(set))
    if (typeof v !== 'string')
      throw new Error(`headers.request.set.${name} must be a string, got ${JSON.stringify(v)}`);
  return set as Record<string, string>;
}

/**
 * One row per supported field. A VirtualService's route fields program the client side: the
 * route of the caller's sidecar (or of the ingress gateway, for the gateway's VirtualService).
 * A DestinationRule's connectionPool also programs the server-side
 * sidecar's inbound cluster to its app (istio/api#2961), which is where the lab's
 * `recipe-api-sidecar` `inbound-http` listener sits.
 */
const translations: {
  kind: string;
  name: string;
  path: string;
  to: (value: unknown) => LabMeshChange[];
}[] = [
  {
    kind: 'DestinationRule',
    name: 'recipe-api',
    path: '/spec/trafficPolicy/connectionPool/http/idleTimeout',
    to: (value) => bothEnds({ upstream: { idleTimeoutMs: durationMs(value) } }),
  },
  {
    kind: 'DestinationRule',
    name: 'recipe-api',
    path: '/spec/trafficPolicy/connectionPool/http/maxRequestsPerConnection',
    to: (value) => bothEnds({ upstream: { maxRequestsPerConnection: wholeNumber('maxRequestsPerConnection', value) } }),
  },
  { kind: 'DestinationRule', name: 'recipe-api', path: '/spec/trafficPolicy/connectionPool', to: connectionPool },
  { kind: 'DestinationRule', name: 'recipe-api', path: '/spec/trafficPolicy/outlierDetection', to: outlierDetection },
  // VirtualService routes program the caller's side: web-api's outbound listeners for recipe-api
  // (http/0 REST and GraphQL, http/1 gRPC: istio/virtualservice-recipe-api.yaml), the ingress
  // gateway's route for web-api-ingress.
  {
    kind: 'VirtualService',
    name: 'recipe-api',
    path: '/spec/http/0/timeout',
    to: (value) => restRoute({ route: { timeoutMs: durationMs(value) } }),
  },
  {
    kind: 'VirtualService',
    name: 'recipe-api',
    path: '/spec/http/0/retries',
    to: (value) => restRoute({ route: { retries: retries(value) } }),
  },
  {
    kind: 'VirtualService',
    name: 'recipe-api',
    path: '/spec/http/1/retries',
    to: (value) => grpcRoute({ route: { retries: retries(value) } }),
  },
  {
    kind: 'VirtualService',
    name: 'recipe-api',
    path: '/spec/http/0/fault',
    to: (value) => restRoute({ route: { fault: faultPolicy(value) } }),
  },
  {
    kind: 'VirtualService',
    name: 'recipe-api',
    path: '/spec/http/1/fault',
    to: (value) => grpcRoute({ route: { fault: faultPolicy(value) } }),
  },
  {
    kind: 'VirtualService',
    name: 'web-api-ingress',
    path: '/spec/http/0/timeout',
    to: (value) => gatewayRoute({ route: { timeoutMs: durationMs(value) } }),
  },
  {
    kind: 'VirtualService',
    name: 'web-api-ingress',
    path: '/spec/http/0/headers',
    to: (value) => gatewayRoute({ route: { requestHeaders: requestHeadersSet(value) } }),
  },
];

export const supportedFields = translations.map((t) => `${t.kind}/${t.name} ${t.path}`);

/** The lab's Envoy patches for a component; throws UnsupportedMeshFieldError for a field with no translation. */
export function translateComponent(name: string, root = repoRoot): LabMeshChange[] {
  const changes: LabMeshChange[] = [];
  for (const patch of readComponent(name, root)) {
    for (const op of patch.ops) {
      const row = translations.find((t) => t.kind === patch.kind && t.name === patch.name && t.path === op.path);
      if (!row || op.op === 'remove') throw new UnsupportedMeshFieldError(name, patch, op);
      changes.push(...row.to(op.value));
    }
  }
  return changes;
}

/** The value a component sets at `path` of `kind/name` (for reports and the experiment's own numbers). */
export function componentValue(
  name: string,
  kind: string,
  resource: string,
  fieldPath: string,
  root = repoRoot,
): unknown {
  for (const patch of readComponent(name, root)) {
    if (patch.kind !== kind || patch.name !== resource) continue;
    const op = patch.ops.find((o) => o.path === fieldPath);
    if (op) return op.value;
  }
  throw new Error(`istio/faults/${name} does not set ${kind}/${resource} ${fieldPath}`);
}
