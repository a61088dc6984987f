import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  istioDefaultCircuitBreakers,
  type ListenerPatch,
  type ProxyName,
  type RetryPolicy,
} from '@recipe-mesh/lab/mesh/description';
import { parse } from 'yaml';
import { fileURLToPath } from 'node:url';

/**
 * Mesh changes have one home: a kustomize component under `istio/faults/<name>/` that patches the
 * resources of `istio/` (JSON 6902 patches on the DestinationRule / VirtualService / EnvoyFilter
 * by name). `--target k8s` applies the component as `make fault FAULT=<name>` does; the lab gets
 * the same fields through `translateComponent`, so each knob has one value for both targets.
 */

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

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
    patches?: { target?: { kind?: string; name?: string }; patch?: string }[];
  };
  if (doc.kind !== 'Component') throw new Error(`istio/faults/${name} is not a kustomize Component`);
  return (doc.patches ?? []).map((p) => {
    if (!p.target?.kind || !p.target.name || typeof p.patch !== 'string')
      throw new Error(`istio/faults/${name}: every patch needs target.kind, target.name and a JSON 6902 patch`);
    return { kind: p.target.kind, name: p.target.name, ops: parse(p.patch) as PatchOp[] };
  });
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
const inbound = (patch: ListenerPatch): LabMeshChange[] => [
  { proxy: 'recipe-api-sidecar', listener: 'inbound-http', patch },
];

/**
 * A whole `connectionPool`: its limits are the client sidecar's circuit breakers (Istio's
 * circuit-breaking task: tcp.maxConnections → max_connections, http1MaxPendingRequests →
 * max_pending_requests, http2MaxRequests → max_requests; an unset one keeps Istio's 2^32-1), and
 * idleTimeout / maxRequestsPerConnection program the server sidecar's inbound cluster as the rows
 * for those single fields do.
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
  const changes = outbound({
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
      ...(tcp.connectTimeout === undefined ? {} : { connectTimeoutMs: durationMs(tcp.connectTimeout) }),
    },
  });
  const server: ListenerPatch['upstream'] = {
    ...(http.idleTimeout === undefined ? {} : { idleTimeoutMs: durationMs(http.idleTimeout) }),
    ...(http.maxRequestsPerConnection === undefined
      ? {}
      : { maxRequestsPerConnection: wholeNumber('http.maxRequestsPerConnection', http.maxRequestsPerConnection) }),
  };
  return Object.keys(server ?? {}).length ? [...changes, ...inbound({ upstream: server })] : changes;
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

/**
 * A VirtualService `HTTPRetry` as Istio programs it into the caller's route (retry.go
 * `ConvertPolicy` in istio/istio pilot/pkg/networking/core/route/retry): `attempts` is Envoy's
 * `num_retries`, `perTryTimeout` its `per_try_timeout`, and `retryOn` is split so that status codes
 * (`503`) become `retriable_status_codes` with `retriable-status-codes` added to `retry_on`, while
 * the names (`reset`, `connect-failure`…) are Envoy's `retry_on` as they are.
 */
export function istioRetryPolicy(value: unknown): RetryPolicy {
  const retry = value as { attempts?: unknown; perTryTimeout?: unknown; retryOn?: unknown };
  if (typeof value !== 'object' || value === null || typeof retry.attempts !== 'number' || retry.attempts < 0)
    throw new Error(`retries needs attempts ≥ 0, got ${JSON.stringify(value)}`);
  const unknownKeys = Object.keys(value).filter((k) => !['attempts', 'perTryTimeout', 'retryOn'].includes(k));
  if (unknownKeys.length) throw new Error(`retries: no lab equivalent for ${unknownKeys.join(', ')}`);
  const parts = typeof retry.retryOn === 'string' ? retry.retryOn.split(',').map((p) => p.trim()) : [];
  const codes = parts.filter((p) => /^\d{3}$/.test(p)).map(Number);
  const names = parts.filter((p) => p && !/^\d{3}$/.test(p));
  return {
    retryOn: [...names, ...(codes.length ? ['retriable-status-codes'] : [])].join(','),
    numRetries: retry.attempts,
    retriableStatusCodes: codes,
    perTryTimeoutMs: retry.perTryTimeout === undefined ? 0 : durationMs(retry.perTryTimeout),
  };
}

/**
 * One row per supported field. A DestinationRule's connectionPool also programs the server-side
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
    to: (value) => inbound({ upstream: { idleTimeoutMs: durationMs(value) } }),
  },
  {
    kind: 'DestinationRule',
    name: 'recipe-api',
    path: '/spec/trafficPolicy/connectionPool/http/maxRequestsPerConnection',
    to: (value) => inbound({ upstream: { maxRequestsPerConnection: wholeNumber('maxRequestsPerConnection', value) } }),
  },
  { kind: 'DestinationRule', name: 'recipe-api', path: '/spec/trafficPolicy/connectionPool', to: connectionPool },
  { kind: 'DestinationRule', name: 'recipe-api', path: '/spec/trafficPolicy/outlierDetection', to: outlierDetection },
  // VirtualService recipe-api routes are programmed on the caller's sidecar (web-api's outbound
  // listeners): http/0 is the REST/GraphQL port, http/1 gRPC (istio/virtualservice-recipe-api.yaml).
  {
    kind: 'VirtualService',
    name: 'recipe-api',
    path: '/spec/http/0/retries',
    to: (value) => [
      {
        proxy: 'web-api-sidecar',
        listener: 'outbound-recipe-api-http',
        patch: { route: { retries: istioRetryPolicy(value) } },
      },
    ],
  },
  {
    kind: 'VirtualService',
    name: 'recipe-api',
    path: '/spec/http/1/retries',
    to: (value) => [
      {
        proxy: 'web-api-sidecar',
        listener: 'outbound-recipe-api-grpc',
        patch: { route: { retries: istioRetryPolicy(value) } },
      },
    ],
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
