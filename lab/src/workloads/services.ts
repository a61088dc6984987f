import type { ProxyName } from '../mesh/description.js';
import type { LabPorts } from '../ports.js';

/**
 * The services the lab runs, and the one table of how an instance of each is wired: which env
 * variable carries each of its ports, which `LabPorts` key the first instance takes, and which of
 * its sidecar's inbound listeners fronts the port. Kubernetes runs each service as a Deployment
 * of pods; here an instance is a process, and its sidecar inbound listeners play the pod IP that
 * callers' endpoints point at (docs/lab.md, "Several instances of a service").
 */

export type ServiceName = 'web-api' | 'recipe-api';

export const serviceNames: ServiceName[] = ['web-api', 'recipe-api'];

export interface ServicePort {
  /** `http`, `grpc` or `admin`. */
  name: string;
  /** The service's config variable for it (docs/contracts.md). */
  env: string;
  /** Where the first instance's port comes from. */
  labPort: keyof LabPorts;
  /** The sidecar inbound listener in front of it (null: not routed, e.g. the admin port). */
  inbound: { listener: string; labPort: keyof LabPorts } | null;
}

export interface ServiceShape {
  sidecar: ProxyName;
  ports: ServicePort[];
}

export const serviceShapes: Record<ServiceName, ServiceShape> = {
  'web-api': {
    sidecar: 'web-api-sidecar',
    ports: [
      {
        name: 'http',
        env: 'PORT',
        labPort: 'webApi',
        inbound: { listener: 'inbound-http', labPort: 'webApiSidecarInbound' },
      },
      { name: 'admin', env: 'ADMIN_PORT', labPort: 'webApiAdmin', inbound: null },
    ],
  },
  'recipe-api': {
    sidecar: 'recipe-api-sidecar',
    ports: [
      {
        name: 'http',
        env: 'PORT',
        labPort: 'recipeApi',
        inbound: { listener: 'inbound-http', labPort: 'recipeApiSidecarInboundHttp' },
      },
      {
        name: 'grpc',
        env: 'GRPC_PORT',
        labPort: 'recipeApiGrpc',
        inbound: { listener: 'inbound-grpc', labPort: 'recipeApiSidecarInboundGrpc' },
      },
      { name: 'admin', env: 'ADMIN_PORT', labPort: 'recipeApiAdmin', inbound: null },
    ],
  },
};

export function isServiceName(text: string): text is ServiceName {
  return (serviceNames as string[]).includes(text);
}

/** One instance ("pod") of a service: its app ports and the sidecar inbound ports in front of them. */
export interface InstanceInfo {
  service: ServiceName;
  /** App ports by ServicePort name (`http`, `grpc`, `admin`). */
  appPorts: Record<string, number>;
  /** Sidecar inbound listener name → the port it listens on for this instance. */
  inboundPorts: Record<string, number>;
  /**
   * Set when the instance is being stopped: the endpoint controller drops it from callers at
   * once, whatever its readiness, as Kubernetes removes a deleted pod's endpoint.
   */
  terminating?: boolean;
}

/** The first instance, on the lab's configured ports (what `make up` has always run). */
export function firstInstance(service: ServiceName, ports: LabPorts): InstanceInfo {
  const shape = serviceShapes[service];
  const appPorts: Record<string, number> = {};
  const inboundPorts: Record<string, number> = {};
  for (const port of shape.ports) {
    appPorts[port.name] = ports[port.labPort];
    if (port.inbound) inboundPorts[port.inbound.listener] = ports[port.inbound.labPort];
  }
  return { service, appPorts, inboundPorts };
}

/** A further instance on the given free ports, taken in the order app ports then inbound ports. */
export function instanceOnPorts(service: ServiceName, takePort: () => number): InstanceInfo {
  const shape = serviceShapes[service];
  const appPorts: Record<string, number> = {};
  const inboundPorts: Record<string, number> = {};
  for (const port of shape.ports) appPorts[port.name] = takePort();
  for (const port of shape.ports) if (port.inbound) inboundPorts[port.inbound.listener] = takePort();
  return { service, appPorts, inboundPorts };
}

/** How many ports one instance needs (app ports and sidecar inbound ports). */
export function portsPerInstance(service: ServiceName): number {
  const ports = serviceShapes[service].ports;
  return ports.length + ports.filter((p) => p.inbound).length;
}

/** The env that puts an instance on its ports (`PORT`, `GRPC_PORT`, `ADMIN_PORT`). */
export function instancePortEnv(instance: InstanceInfo): Record<string, string> {
  const env: Record<string, string> = {};
  for (const port of serviceShapes[instance.service].ports) env[port.env] = String(instance.appPorts[port.name]);
  return env;
}

/** Which app port an inbound listener of the service's sidecar fronts. */
export function appPortName(service: ServiceName, listener: string): string | null {
  return serviceShapes[service].ports.find((p) => p.inbound?.listener === listener)?.name ?? null;
}

/** The service whose sidecar `proxy` is, or null (the ingress). */
export function serviceOfSidecar(proxy: ProxyName): ServiceName | null {
  return serviceNames.find((s) => serviceShapes[s].sidecar === proxy) ?? null;
}

/** `--replicas recipe-api=2` flags (repeatable, or comma-separated) → `{ 'recipe-api': 2 }`. */
export function parseReplicas(flags: string[]): Partial<Record<ServiceName, number>> {
  const replicas: Partial<Record<ServiceName, number>> = {};
  for (const item of flags
    .flatMap((f) => f.split(','))
    .map((f) => f.trim())
    .filter(Boolean)) {
    const match = /^([a-z-]+)=(\d+)$/.exec(item);
    if (!match || !isServiceName(match[1]!) || Number(match[2]) < 1)
      throw new Error(`--replicas ${item}: expected <service>=<n>, n ≥ 1, service ${serviceNames.join(' or ')}`);
    replicas[match[1]] = Number(match[2]);
  }
  return replicas;
}
