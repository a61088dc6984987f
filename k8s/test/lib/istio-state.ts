import { isDeepStrictEqual } from 'node:util';
import type { TestControlPlane } from './control-plane.js';
import { resolveService } from './crossrefs.js';
import { describe, type K8sObject } from './objects.js';

/**
 * The Istio resources on a live API server, as a snapshot to compare (what an experiment applied,
 * whether its restore left a field behind) and the rules an applied resource must keep: it lands
 * in the manifests' namespace, names hosts that exist, and never gives a host a second
 * DestinationRule (Istio does not merge them: istio.io, "Traffic Management Best Practices",
 * "Split large virtual services and destination rules into multiple resources").
 */

/** `Kind/namespace/name` → what a change could touch: labels, annotations, spec. */
export type IstioSnapshot = Map<string, { object: K8sObject; content: unknown }>;

/** Every Istio resource kind the API server serves (from the CRDs), e.g. destinationrules.networking.istio.io. */
function istioKinds(cluster: TestControlPlane): string[] {
  return cluster
    .kubectl(['api-resources', '--verbs=list', '-o', 'name'])
    .split('\n')
    .filter((r) => /\.istio\.io$/.test(r));
}

export function istioSnapshot(cluster: TestControlPlane): IstioSnapshot {
  const list = JSON.parse(cluster.kubectl(['get', istioKinds(cluster).join(','), '-A', '-o', 'json'])) as {
    items: K8sObject[];
  };
  const snapshot: IstioSnapshot = new Map();
  for (const object of list.items) {
    const { labels, annotations } = object.metadata as { labels?: unknown; annotations?: unknown };
    snapshot.set(`${object.kind}/${object.metadata.namespace ?? ''}/${object.metadata.name}`, {
      object,
      content: { labels, annotations, spec: object.spec },
    });
  }
  return snapshot;
}

/** The objects `after` added or changed compared with `before`. */
export function changedObjects(before: IstioSnapshot, after: IstioSnapshot): K8sObject[] {
  return [...after]
    .filter(([key, v]) => !isDeepStrictEqual(before.get(key)?.content, v.content))
    .map(([, v]) => v.object);
}

/** Objects of `before` that are gone, changed or new in `after`, one line each. */
export function snapshotDifferences(before: IstioSnapshot, after: IstioSnapshot): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys]
    .filter((k) => !isDeepStrictEqual(before.get(k)?.content, after.get(k)?.content))
    .map((k) =>
      !before.has(k)
        ? `${k}: added`
        : !after.has(k)
          ? `${k}: removed`
          : `${k}: ${JSON.stringify(before.get(k)!.content)} → ${JSON.stringify(after.get(k)!.content)}`,
    );
}

/** Hosts a resource routes to or configures: DestinationRule host, VirtualService destinations (and mesh hosts). */
function hostsOf(object: K8sObject): string[] {
  if (object.kind === 'DestinationRule') return [object.spec?.host].filter(Boolean);
  if (object.kind !== 'VirtualService') return [];
  const routes = ['http', 'tcp', 'tls'].flatMap((k) => (object.spec?.[k] ?? []) as { route?: unknown[] }[]);
  const destinations = routes.flatMap((r) => (r.route ?? []) as { destination?: { host?: string } }[]);
  const gateways: string[] = object.spec?.gateways ?? ['mesh'];
  // Hosts of a VirtualService bound only to gateways are the names clients ask for, not Services.
  const own: string[] = gateways.includes('mesh') ? (object.spec?.hosts ?? []) : [];
  return [...own, ...destinations.map((d) => d.destination?.host ?? '')];
}

export function namespaceProblems(objects: K8sObject[], namespace: string): string[] {
  return objects
    .filter((o) => o.metadata.namespace !== namespace)
    .map((o) => `${describe(o)} is in namespace ${o.metadata.namespace}, not the manifests' ${namespace}`);
}

/** Hosts that resolve to no Service of `services` (the cluster's). */
export function hostProblems(objects: K8sObject[], services: K8sObject[]): string[] {
  return objects.flatMap((o) =>
    hostsOf(o)
      .filter((host) => !resolveService(services, host, o.metadata.namespace ?? 'default'))
      .map((host) => `${describe(o)} names host ${host}, which is no Service in the cluster`),
  );
}

/** Hosts that more than one DestinationRule configures. */
export function duplicateDestinationRules(destinationRules: K8sObject[], services: K8sObject[]): string[] {
  const byHost = new Map<string, string[]>();
  for (const dr of destinationRules) {
    const service = resolveService(services, dr.spec?.host ?? '', dr.metadata.namespace ?? 'default');
    const host = service ? `${service.metadata.name}.${service.metadata.namespace}` : dr.spec?.host;
    byHost.set(host, [...(byHost.get(host) ?? []), describe(dr)]);
  }
  return [...byHost]
    .filter(([, rules]) => rules.length > 1)
    .map(
      ([host, rules]) =>
        `${host} has ${rules.length} DestinationRules (${rules.join(', ')}): Istio does not merge them`,
    );
}
