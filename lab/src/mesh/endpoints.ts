import path from 'node:path';
import {
  appPortName,
  serviceNames,
  serviceOfSidecar,
  serviceShapes,
  type InstanceInfo,
  type ServiceName,
} from '../workloads/services.js';
import type { ListenerDescription, MeshDescription, ProxyName } from './description.js';

/**
 * Where a service's instances appear in the Envoy configs. Each instance gets its own set of
 * inbound listeners on its service's sidecar (one Envoy process per service plays every pod's
 * sidecar: per-instance listener, route and `inbound|<port>||` cluster to that instance's app),
 * and callers reach them through their outbound cluster. For a service started with replicas,
 * that outbound cluster is an EDS cluster whose endpoints are the ready instances' inbound ports,
 * published by the endpoint controller (membership/controller.ts) as Kubernetes + istiod do.
 */

export interface WorkloadInstance {
  /** Process name, like a pod name: `recipe-api` (the first), `recipe-api-2`, … */
  name: string;
  info: InstanceInfo;
}

export interface ServiceWorkload {
  /** Callers reach it through EDS membership driven by readiness (else the static first instance). */
  dynamic: boolean;
  instances: WorkloadInstance[];
}

export type Workloads = Partial<Record<ServiceName, ServiceWorkload>>;

/**
 * The first instance keeps the names `make up` always had (`inbound-http`, `inbound|4000||`);
 * the others carry their instance name, since one Envoy holds them side by side (in Istio each
 * pod's sidecar has its own `inbound|4000||`).
 */
export function instanceListenerName(listener: string, instance: WorkloadInstance): string {
  return instance.name === instance.info.service ? listener : `${listener}-${instance.name}`;
}

function instanceClusterName(cluster: string, instance: WorkloadInstance): string {
  return instance.name === instance.info.service ? cluster : `${cluster}${instance.name}`;
}

/** The proxy's listeners with each inbound listener repeated per instance of its service. */
export function expandListeners(
  mesh: MeshDescription,
  proxy: ProxyName,
  workloads: Workloads | undefined,
): ListenerDescription[] {
  const listeners = mesh.proxies.find((p) => p.name === proxy)?.listeners ?? [];
  const service = serviceOfSidecar(proxy);
  const workload = service ? workloads?.[service] : undefined;
  if (!service || !workload) return listeners;
  return listeners.flatMap((listener) => {
    const portName = listener.direction === 'inbound' ? appPortName(service, listener.name) : null;
    if (!portName) return [listener];
    return workload.instances.map((instance) => {
      const copy = structuredClone(listener);
      copy.name = instanceListenerName(listener.name, instance);
      copy.port = instance.info.inboundPorts[listener.name]!;
      copy.upstream.cluster = instanceClusterName(listener.upstream.cluster, instance);
      copy.upstream.port = instance.info.appPorts[portName]!;
      return copy;
    });
  });
}

/** An outbound (or gateway) cluster whose endpoints are a service's instances. */
export interface EdsTarget {
  service: ServiceName;
  /** The calling proxy and its listener whose upstream cluster this is. */
  proxy: ProxyName;
  listener: string;
  cluster: string;
  /** The service's inbound listener the endpoints point at (`inbound-http`, `inbound-grpc`). */
  inboundListener: string;
}

/**
 * Every caller cluster of the dynamic services: the listeners whose upstream is one of the
 * service sidecar's inbound listeners (matched by the port the mesh gives that listener).
 */
export function edsTargets(mesh: MeshDescription, dynamic: ServiceName[]): EdsTarget[] {
  const targets: EdsTarget[] = [];
  for (const service of serviceNames.filter((s) => dynamic.includes(s))) {
    const sidecar = mesh.proxies.find((p) => p.name === serviceShapes[service].sidecar);
    for (const inbound of sidecar?.listeners.filter((l) => l.direction === 'inbound') ?? []) {
      for (const proxy of mesh.proxies) {
        for (const listener of proxy.listeners) {
          if (listener.direction === 'inbound' || listener.upstream.port !== inbound.port) continue;
          targets.push({
            service,
            proxy: proxy.name,
            listener: listener.name,
            cluster: listener.upstream.cluster,
            inboundListener: inbound.name,
          });
        }
      }
    }
  }
  return targets;
}

export function dynamicServices(workloads: Workloads | undefined): ServiceName[] {
  return serviceNames.filter((s) => workloads?.[s]?.dynamic);
}

/** The directory of a proxy's EDS files: beside its other xDS files, swapped on its own. */
export function edsDir(configDir: string): string {
  return path.join(configDir, 'eds');
}

export function edsFileName(listener: string): string {
  return `${listener}.json`;
}

/** A ClusterLoadAssignment with one loopback endpoint per port (an empty list: no healthy upstream). */
export function loadAssignment(cluster: string, ports: number[]): Record<string, unknown> {
  return {
    '@type': 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
    cluster_name: cluster,
    endpoints:
      ports.length === 0
        ? []
        : [
            {
              lb_endpoints: ports.map((port) => ({
                endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } },
              })),
            },
          ],
  };
}

/** Every port a proxy binds: its admin port and each (per-instance) listener. */
export function proxyPorts(
  mesh: MeshDescription,
  proxy: ProxyName,
  workloads: Workloads | undefined,
): { name: string; port: number }[] {
  const adminPort = mesh.proxies.find((p) => p.name === proxy)?.adminPort;
  return [
    ...(adminPort === undefined ? [] : [{ name: 'admin', port: adminPort }]),
    ...expandListeners(mesh, proxy, workloads).map((l) => ({ name: l.name, port: l.port })),
  ];
}
