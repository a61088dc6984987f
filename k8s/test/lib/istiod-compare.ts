import type { ProxyName } from '@recipe-mesh/lab/mesh/description';
import type { MeshDescription } from '@recipe-mesh/lab/mesh/description';
import { proxyResources } from '@recipe-mesh/lab/mesh/envoy-config';
import {
  type ComparedField,
  type EnvoyObject,
  type Side,
  comparedFields,
  keptDifferences,
} from '@recipe-mesh/lab/mesh/istiod-parity';
import type { EnvoyConfigDump } from './istiod.js';

/**
 * Finds, for each of the lab's listeners, the Envoy objects istiod generates for the same traffic
 * (its cluster, route, route configuration and HTTP connection manager) and compares them with the
 * lab's on lab/src/mesh/istiod-parity.ts's `comparedFields`.
 */

// Envoy's JSON, walked by path.
type Json = any;

export type ListenerObjects = Record<EnvoyObject, Json>;

/** A lab listener and where istiod puts the same traffic. */
export interface Place {
  proxy: ProxyName;
  listener: string;
  /** Outbound/gateway: istiod's listener and RDS name; inbound: the virtualInbound chain's port. */
  istiod:
    | { kind: 'rds'; listener: string; routeConfig: string; virtualHost: string; route: string }
    | { kind: 'inbound'; port: number };
}

const host = (service: string) => `${service}.recipe-mesh.svc.cluster.local`;

export const places: readonly Place[] = [
  {
    proxy: 'ingress',
    listener: 'gateway-http',
    // The gateway Service's port 80 targets the pod's 8080 (istioctl manifest generate).
    istiod: { kind: 'rds', listener: '0.0.0.0_8080', routeConfig: 'http.8080', virtualHost: '*:80', route: 'web-api' },
  },
  { proxy: 'web-api-sidecar', listener: 'inbound-http', istiod: { kind: 'inbound', port: 3000 } },
  {
    proxy: 'web-api-sidecar',
    listener: 'outbound-recipe-api-http',
    istiod: {
      kind: 'rds',
      listener: '0.0.0.0_4000',
      routeConfig: '4000',
      virtualHost: `${host('recipe-api')}:4000`,
      route: 'rest-graphql',
    },
  },
  {
    proxy: 'web-api-sidecar',
    listener: 'outbound-recipe-api-grpc',
    istiod: {
      kind: 'rds',
      listener: '0.0.0.0_4001',
      routeConfig: '4001',
      virtualHost: `${host('recipe-api')}:4001`,
      route: 'grpc',
    },
  },
  { proxy: 'recipe-api-sidecar', listener: 'inbound-http', istiod: { kind: 'inbound', port: 4000 } },
  { proxy: 'recipe-api-sidecar', listener: 'inbound-grpc', istiod: { kind: 'inbound', port: 4001 } },
];

const files = { configDir: '/lab/config', accessLog: '/lab/access.log' };

export function labObjects(mesh: MeshDescription, place: Place): ListenerObjects {
  const resources = proxyResources(mesh, place.proxy, files);
  const index = mesh.proxies.find((p) => p.name === place.proxy)?.listeners.findIndex((l) => l.name === place.listener);
  if (index === undefined || index < 0) throw new Error(`the lab has no ${place.proxy} ${place.listener}`);
  const routeConfiguration: Json = resources.routes[index]?.config;
  const listener: Json = resources.listeners[index];
  return {
    cluster: resources.clusters[index],
    route: routeConfiguration?.virtual_hosts?.[0]?.routes?.[0],
    routeConfiguration,
    httpConnectionManager: listener?.filter_chains?.[0]?.filters?.[0]?.typed_config,
  };
}

function dumpSection(dump: EnvoyConfigDump, type: string): Json {
  const section = dump.configs.find((c) => c['@type'] === `type.googleapis.com/envoy.admin.v3.${type}`);
  if (!section) throw new Error(`istiod's config dump has no ${type}`);
  return section;
}

export function istiodClusters(dump: EnvoyConfigDump): Json[] {
  return (dumpSection(dump, 'ClustersConfigDump').dynamic_active_clusters ?? []).map((c: Json) => c.cluster);
}

export function istiodListeners(dump: EnvoyConfigDump): Json[] {
  return (dumpSection(dump, 'ListenersConfigDump').dynamic_listeners ?? []).map((l: Json) => l.active_state?.listener);
}

export function istiodRouteConfigs(dump: EnvoyConfigDump): Json[] {
  return (dumpSection(dump, 'RoutesConfigDump').dynamic_route_configs ?? []).map((r: Json) => r.route_config);
}

const hcmName = 'envoy.filters.network.http_connection_manager';

function hcmOf(chain: Json): Json | undefined {
  return chain?.filters?.find((f: Json) => f.name === hcmName)?.typed_config;
}

/** Every HTTP connection manager of a proxy's listeners (for its HTTP filters). */
export function istiodHttpConnectionManagers(dump: EnvoyConfigDump): Json[] {
  return istiodListeners(dump).flatMap((l: Json) =>
    [...(l.filter_chains ?? []), ...(l.default_filter_chain ? [l.default_filter_chain] : [])]
      .map(hcmOf)
      .filter(Boolean),
  );
}

/** istiod's objects for one place, or the reason they are not there. */
export function istiodObjects(dump: EnvoyConfigDump, place: Place): ListenerObjects | string {
  const listeners = istiodListeners(dump);
  let httpConnectionManager: Json;
  let routeConfiguration: Json;
  let route: Json;
  if (place.istiod.kind === 'rds') {
    const { listener: name, routeConfig, virtualHost, route: routeName } = place.istiod;
    const listener = listeners.find((l: Json) => l.name === name);
    if (!listener) return `no listener ${name}`;
    httpConnectionManager = (listener.filter_chains ?? []).map(hcmOf).find(Boolean);
    if (!httpConnectionManager) return `listener ${name} has no HTTP connection manager`;
    routeConfiguration = istiodRouteConfigs(dump).find((r: Json) => r.name === routeConfig);
    if (!routeConfiguration) return `no route configuration ${routeConfig}`;
    const vhost = routeConfiguration.virtual_hosts?.find((v: Json) => v.name === virtualHost);
    if (!vhost) return `route configuration ${routeConfig} has no virtual host ${virtualHost}`;
    route = vhost.routes?.find((r: Json) => r.name === routeName);
    if (!route) return `virtual host ${virtualHost} has no route ${routeName}`;
  } else {
    const { port } = place.istiod;
    const inbound = listeners.find((l: Json) => l.name === 'virtualInbound');
    if (!inbound) return 'no virtualInbound listener';
    // One chain per port and transport (mTLS / plaintext, HTTP / TCP); the HTTP ones are alike
    // but for TLS, which the lab does not have (istiod-parity.ts, dataPlaneDifferences).
    const chain = (inbound.filter_chains ?? []).find(
      (c: Json) => c.filter_chain_match?.destination_port === port && hcmOf(c),
    );
    if (!chain) {
      const ports = (inbound.filter_chains ?? []).map((c: Json) => c.filter_chain_match?.destination_port ?? c.name);
      return `virtualInbound has no HTTP chain for port ${port} (chains: ${ports.join(', ')})`;
    }
    httpConnectionManager = hcmOf(chain);
    routeConfiguration = httpConnectionManager.route_config;
    route = routeConfiguration?.virtual_hosts?.[0]?.routes?.[0];
    if (!route) return `the inbound chain for port ${port} has no inline route`;
  }
  const clusterName = route.route?.cluster;
  const cluster = istiodClusters(dump).find((c: Json) => c.name === clusterName);
  if (!cluster) return `no cluster ${clusterName} (the route's target)`;
  return { cluster, route, routeConfiguration, httpConnectionManager };
}

/** Every value at a path (a `*` segment fans out over an array), with its concrete path. */
export function valuesAt(json: Json, path: readonly string[], at: string[] = []): { path: string[]; value: Json }[] {
  if (path.length === 0) return [{ path: at, value: json }];
  const [head, ...rest] = path as [string, ...string[]];
  if (head === '*') {
    if (!Array.isArray(json)) return [{ path: [...at, '*'], value: undefined }];
    return json.flatMap((item, i) => valuesAt(item, rest, [...at, String(i)]));
  }
  return valuesAt(json?.[head], rest, [...at, head]);
}

/** "2s", "0.250s", "3600s" in milliseconds; undefined stays undefined. */
function durationMs(value: Json): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)s$/.exec(String(value));
  if (!m) throw new Error(`not a protobuf JSON duration: ${JSON.stringify(value)}`);
  return Math.round(Number(m[1]) * 1000);
}

function normalized(value: Json, field: ComparedField): Json {
  const present = value === undefined && 'absentIs' in field ? field.absentIs : value;
  if (present === undefined) return undefined;
  switch (field.as) {
    case 'duration':
      return durationMs(present);
    case 'int64':
      return Number(present);
    case 'percent':
      return present?.value ?? 0;
    default:
      return present;
  }
}

/** The side of the mesh a lab listener is on (the gateway calls out like a sidecar's outbound). */
export function sideOf(place: Place): Side {
  return place.istiod.kind === 'inbound' ? 'inbound' : 'outbound';
}

const applies = (row: { only?: Side }, place: Place) => row.only === undefined || row.only === sideOf(place);

export interface Difference {
  proxy: ProxyName;
  listener: string;
  field: string;
  lab: Json;
  istiod: Json;
}

const canonical = (value: Json): string =>
  JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  ) ?? 'undefined';

/** The compared fields where the lab's objects and istiod's disagree. */
export function differences(place: Place, lab: ListenerObjects, istiod: ListenerObjects): Difference[] {
  const found: Difference[] = [];
  for (const field of comparedFields.filter((f) => applies(f, place))) {
    const labValues = valuesAt(lab[field.object], field.path);
    const istiodValues = valuesAt(istiod[field.object], field.path);
    const count = Math.max(labValues.length, istiodValues.length);
    for (let i = 0; i < count; i++) {
      const a = normalized(labValues[i]?.value, field);
      const b = normalized(istiodValues[i]?.value, field);
      if (canonical(a) !== canonical(b))
        found.push({
          proxy: place.proxy,
          listener: place.listener,
          field: `${field.object}.${(labValues[i] ?? istiodValues[i])?.path.join('.')}`,
          lab: a,
          istiod: b,
        });
    }
  }
  return found;
}

/** Every leaf path of a JSON value (arrays as `*`), deduplicated. */
export function leafPaths(json: Json, at: string[] = []): string[][] {
  if (Array.isArray(json)) {
    const paths = json.flatMap((item) => leafPaths(item, [...at, '*']));
    return paths.length ? paths : [at];
  }
  if (json && typeof json === 'object') {
    const paths = Object.entries(json).flatMap(([key, value]) => leafPaths(value, [...at, key]));
    return paths.length ? paths : [at];
  }
  return [at];
}

const startsWith = (path: readonly string[], prefix: readonly string[]) =>
  prefix.length <= path.length && prefix.every((segment, i) => segment === path[i]);

/** Fields the lab sets in `objects` that neither table covers, as `object.path`. */
export function uncoveredFields(place: Place, objects: ListenerObjects): string[] {
  const covered = [...comparedFields, ...keptDifferences].filter((row) => applies(row, place));
  const out = new Set<string>();
  for (const [object, json] of Object.entries(objects) as [EnvoyObject, Json][]) {
    // The route configuration's routes are the `route` object, compared on their own.
    for (const path of leafPaths(json)) {
      if (!covered.some((c) => c.object === object && startsWith(path, c.path))) out.add(`${object}.${path.join('.')}`);
    }
  }
  return [...out].sort();
}
