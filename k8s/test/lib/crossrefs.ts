import type { Contracts } from './contracts.js';
import type { MeshInstall } from './istio-install.js';
import { builtInProviders } from './istio-install.js';
import {
  allContainers,
  describe,
  find,
  isServiceImage,
  ofKind,
  selects,
  workloads,
  type K8sObject,
  type Workload,
} from './objects.js';

/**
 * Cross-references between objects: each function returns the broken ones as readable lines,
 * empty when everything resolves. They read the built output of kustomize, so names carry
 * generator hashes and namespaces as applied.
 */

const ns = (o: K8sObject) => o.metadata.namespace ?? 'default';

/** A Service named by a host: `name`, `name.ns`, `name.ns.svc`, `name.ns.svc.cluster.local`. */
export function resolveService(objects: K8sObject[], host: string, fromNamespace: string): K8sObject | undefined {
  const parts = host.split('.');
  const [name, namespace = fromNamespace, svc, ...rest] = parts;
  if (svc !== undefined && svc !== 'svc') return undefined;
  if (rest.length && rest.join('.') !== 'cluster.local') return undefined;
  return find(objects, 'Service', name!, namespace);
}

function podsOf(objects: K8sObject[], service: K8sObject): Workload[] {
  return workloads(objects).filter((w) => w.namespace === ns(service) && selects(service.spec?.selector, w.labels));
}

export function deploymentSelectorProblems(objects: K8sObject[]): string[] {
  return workloads(objects)
    .filter((w) => !selects(w.object.spec?.selector?.matchLabels, w.labels))
    .map(
      (w) =>
        `${describe(w.object)}: selector ${JSON.stringify(w.object.spec?.selector?.matchLabels)} does not match its pod labels`,
    );
}

/** Istio picks the protocol from the Service port name prefix or appProtocol. */
const istioProtocolPrefixes = ['http', 'http2', 'https', 'grpc', 'grpc-web', 'tcp', 'tls', 'mongo', 'redis', 'mysql'];

export function serviceProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const service of ofKind(objects, 'Service')) {
    const pods = podsOf(objects, service);
    if (pods.length === 0) {
      problems.push(`${describe(service)}: selector ${JSON.stringify(service.spec?.selector)} matches no pod template`);
      continue;
    }
    for (const port of service.spec?.ports ?? []) {
      const name: string = port.name ?? '';
      const prefix = name.split('-')[0]!;
      if (
        !port.appProtocol &&
        !(istioProtocolPrefixes.includes(prefix) && (name === prefix || name.startsWith(`${prefix}-`)))
      ) {
        problems.push(
          `${describe(service)} port ${name || port.port}: name does not tell Istio the protocol (http-…, grpc-…, tcp-…) and no appProtocol`,
        );
      }
      const target = port.targetPort ?? port.port;
      for (const pod of pods) {
        const ports = pod.pod.containers.flatMap((c) => c.ports ?? []);
        const found =
          typeof target === 'number'
            ? ports.some((p) => p.containerPort === target)
            : ports.some((p) => p.name === target);
        if (!found)
          problems.push(
            `${describe(service)} port ${name}: targetPort ${target} is not a container port of ${describe(pod.object)}`,
          );
      }
    }
  }
  return problems;
}

export function disruptionBudgetProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const pdb of ofKind(objects, 'PodDisruptionBudget')) {
    const targets = workloads(objects).filter(
      (w) => w.namespace === ns(pdb) && selects(pdb.spec?.selector?.matchLabels, w.labels),
    );
    if (targets.length === 0) problems.push(`${describe(pdb)}: selects no pods`);
    for (const w of targets) {
      if (typeof pdb.spec?.minAvailable === 'number' && pdb.spec.minAvailable >= w.replicas) {
        problems.push(
          `${describe(pdb)}: minAvailable ${pdb.spec.minAvailable} with ${w.replicas} replicas blocks every node drain`,
        );
      }
    }
  }
  return problems;
}

export function serviceAccountProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const w of workloads(objects)) {
    const sa = w.pod.serviceAccountName;
    if (sa && !find(objects, 'ServiceAccount', sa, w.namespace))
      problems.push(`${describe(w.object)}: ServiceAccount ${sa} does not exist`);
  }
  for (const binding of [...ofKind(objects, 'RoleBinding'), ...ofKind(objects, 'ClusterRoleBinding')]) {
    const roleRef = (binding as any).roleRef;
    if (!find(objects, roleRef?.kind, roleRef?.name))
      problems.push(`${describe(binding)}: ${roleRef?.kind} ${roleRef?.name} does not exist`);
    for (const subject of ((binding as any).subjects ?? []) as any[]) {
      if (
        subject.kind === 'ServiceAccount' &&
        !find(objects, 'ServiceAccount', subject.name, subject.namespace ?? ns(binding))
      ) {
        problems.push(`${describe(binding)}: ServiceAccount ${subject.namespace}/${subject.name} does not exist`);
      }
    }
  }
  return problems;
}

/** ConfigMaps and Secrets named by volumes, env and envFrom exist, with the keys asked for. */
export function configReferenceProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const check = (w: Workload, kind: 'ConfigMap' | 'Secret', name: string, key?: string, optional?: boolean) => {
    if (optional) return;
    const target = find(objects, kind, name, w.namespace);
    if (!target) problems.push(`${describe(w.object)}: ${kind} ${name} does not exist`);
    else if (key !== undefined) {
      const data = { ...((target as any).data ?? {}), ...((target as any).stringData ?? {}) };
      if (!(key in data)) problems.push(`${describe(w.object)}: ${kind} ${name} has no key ${key}`);
    }
  };
  for (const w of workloads(objects)) {
    for (const v of w.pod.volumes ?? []) {
      if (v.configMap) check(w, 'ConfigMap', v.configMap.name, undefined, v.configMap.optional);
      if (v.secret) check(w, 'Secret', v.secret.secretName, undefined, v.secret.optional);
      for (const source of v.projected?.sources ?? []) {
        if (source.configMap) check(w, 'ConfigMap', source.configMap.name, undefined, source.configMap.optional);
        if (source.secret) check(w, 'Secret', source.secret.name, undefined, source.secret.optional);
      }
    }
    for (const c of allContainers(w.pod)) {
      for (const e of c.env ?? []) {
        const cm = e.valueFrom?.configMapKeyRef;
        const secret = e.valueFrom?.secretKeyRef;
        if (cm) check(w, 'ConfigMap', cm.name, cm.key, cm.optional);
        if (secret) check(w, 'Secret', secret.name, secret.key, secret.optional);
      }
      for (const from of c.envFrom ?? []) {
        if (from.configMapRef) check(w, 'ConfigMap', from.configMapRef.name, undefined, from.configMapRef.optional);
        if (from.secretRef) check(w, 'Secret', from.secretRef.name, undefined, from.secretRef.optional);
      }
      for (const mount of c.volumeMounts ?? []) {
        if (!(w.pod.volumes ?? []).some((v: any) => v.name === mount.name)) {
          problems.push(`${describe(w.object)} container ${c.name}: volumeMount ${mount.name} has no volume`);
        }
      }
    }
  }
  return problems;
}

/**
 * The services' env: every variable is one docs/contracts.md defines (a typo would be silently
 * ignored by the service), and every address (…_URL, …_TARGET, …_ENDPOINT) names a Service and
 * one of its ports.
 */
export function serviceEnvProblems(objects: K8sObject[], contracts: Contracts): string[] {
  const problems: string[] = [];
  for (const w of workloads(objects)) {
    for (const c of w.pod.containers.filter((c) => isServiceImage(c.image))) {
      for (const e of c.env ?? []) {
        const downward = e.valueFrom?.fieldRef && /^POD_/.test(e.name);
        if (!downward && !contracts.envNames.has(e.name) && !e.name.startsWith('OTEL_')) {
          problems.push(`${describe(w.object)} container ${c.name}: ${e.name} is not a variable of docs/contracts.md`);
        }
        if (!/_(URL|TARGET|ENDPOINT)$/.test(e.name) || e.value === undefined || e.value === 'none') continue;
        const address = /^(?:[a-z]+:\/\/)?([^/:]+):(\d+)/.exec(e.value);
        if (!address) {
          problems.push(`${describe(w.object)} container ${c.name}: ${e.name}=${e.value} has no host:port`);
          continue;
        }
        const service = resolveService(objects, address[1]!, w.namespace);
        if (!service)
          problems.push(
            `${describe(w.object)} container ${c.name}: ${e.name} names ${address[1]}, which is no Service`,
          );
        else if (!(service.spec?.ports ?? []).some((p: any) => p.port === Number(address[2]))) {
          problems.push(
            `${describe(w.object)} container ${c.name}: ${e.name} uses port ${address[2]}, not a port of ${describe(service)}`,
          );
        }
      }
    }
  }
  return problems;
}

/**
 * Probes of the services: startup, readiness and liveness on the admin port (the container port
 * named as in docs/contracts.md, with the contract's number), on the paths the admin server
 * really serves.
 */
export function probeProblems(objects: K8sObject[], contracts: Contracts, served: Set<string> | null): string[] {
  const problems: string[] = [];
  const expected = { startupProbe: '/startupz', readinessProbe: '/readyz', livenessProbe: '/livez' } as const;
  for (const w of workloads(objects)) {
    for (const c of w.pod.containers.filter((c) => isServiceImage(c.image))) {
      const contract = contracts.services.find((s) => c.image.startsWith(`recipe-mesh/${s.name}:`));
      const where = `${describe(w.object)} container ${c.name}`;
      if (!contract) {
        problems.push(`${where}: image ${c.image} is no service of docs/contracts.md`);
        continue;
      }
      const admin = (c.ports ?? []).find((p) => p.name === contracts.containerPortNames.admin);
      if (!admin) problems.push(`${where}: no container port named ${contracts.containerPortNames.admin}`);
      else if (admin.containerPort !== contract.adminPort) {
        problems.push(`${where}: admin port is ${admin.containerPort}, docs/contracts.md says ${contract.adminPort}`);
      }
      for (const [probe, path] of Object.entries(expected)) {
        const get = (c as any)[probe]?.httpGet;
        if (!get) {
          problems.push(`${where}: no HTTP ${probe}`);
          continue;
        }
        const onAdmin = get.port === contracts.containerPortNames.admin || get.port === contract.adminPort;
        if (!onAdmin) problems.push(`${where}: ${probe} uses port ${get.port}, not the admin port`);
        if (get.path !== path) problems.push(`${where}: ${probe} path is ${get.path}, expected ${path}`);
        if (!contracts.adminPaths.includes(get.path))
          problems.push(`${where}: ${probe} path ${get.path} is not an admin endpoint of docs/contracts.md`);
        if (served && !served.has(get.path))
          problems.push(`${where}: ${probe} path ${get.path} is not routed by services/platform/src/admin-server.ts`);
      }
    }
  }
  return problems;
}

function meshDestinations(vs: K8sObject): any[] {
  return ['http', 'tcp', 'tls'].flatMap((kind) =>
    (vs.spec?.[kind] ?? []).flatMap((route: any) => [
      ...(route.route ?? []),
      ...(route.mirror ? [{ destination: route.mirror }] : []),
    ]),
  );
}

export function virtualServiceProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const vs of ofKind(objects, 'VirtualService')) {
    const gateways: string[] = vs.spec?.gateways ?? [];
    for (const gw of gateways) {
      if (gw === 'mesh') continue;
      const [gwNamespace, gwName] = gw.includes('/') ? gw.split('/') : [ns(vs), gw];
      if (!find(objects, 'Gateway', gwName!, gwNamespace))
        problems.push(`${describe(vs)}: Gateway ${gw} does not exist`);
    }
    const boundToMesh = gateways.length === 0 || gateways.includes('mesh');
    if (boundToMesh) {
      for (const host of vs.spec?.hosts ?? []) {
        if (!resolveService(objects, host, ns(vs))) problems.push(`${describe(vs)}: host ${host} is no Service`);
      }
    }
    for (const { destination } of meshDestinations(vs)) {
      const service = resolveService(objects, destination?.host ?? '', ns(vs));
      if (!service) {
        problems.push(`${describe(vs)}: destination ${destination?.host} is no Service`);
        continue;
      }
      const ports: number[] = (service.spec?.ports ?? []).map((p: any) => p.port);
      const port = destination.port?.number;
      if (port === undefined && ports.length > 1)
        problems.push(`${describe(vs)}: destination ${destination.host} has several ports; name one`);
      if (port !== undefined && !ports.includes(port))
        problems.push(
          `${describe(vs)}: destination ${destination.host} port ${port} is not a port of ${describe(service)}`,
        );
      if (destination.subset) {
        const rules = ofKind(objects, 'DestinationRule').filter(
          (dr) => resolveService(objects, dr.spec?.host ?? '', ns(dr)) === service,
        );
        if (!rules.some((dr) => (dr.spec?.subsets ?? []).some((s: any) => s.name === destination.subset))) {
          problems.push(
            `${describe(vs)}: subset ${destination.subset} of ${destination.host} is defined by no DestinationRule`,
          );
        }
      }
    }
    for (const route of vs.spec?.http ?? []) {
      for (const match of route.match ?? []) {
        if (match.port === undefined || !boundToMesh) continue;
        const hostsPorts = (vs.spec?.hosts ?? []).flatMap((h: string) =>
          (resolveService(objects, h, ns(vs))?.spec?.ports ?? []).map((p: any) => p.port),
        );
        if (!hostsPorts.includes(match.port))
          problems.push(
            `${describe(vs)}: route ${route.name ?? ''} matches port ${match.port}, which its hosts do not have`,
          );
      }
    }
  }
  return problems;
}

export function destinationRuleProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const dr of ofKind(objects, 'DestinationRule')) {
    const service = resolveService(objects, dr.spec?.host ?? '', ns(dr));
    if (!service) {
      problems.push(`${describe(dr)}: host ${dr.spec?.host} is no Service`);
      continue;
    }
    const pods = podsOf(objects, service);
    for (const subset of dr.spec?.subsets ?? []) {
      if (!pods.some((w) => selects(subset.labels, w.labels))) {
        problems.push(
          `${describe(dr)}: subset ${subset.name} labels ${JSON.stringify(subset.labels)} match no pod of ${describe(service)}`,
        );
      }
    }
  }
  return problems;
}

export function gatewayProblems(objects: K8sObject[], install: MeshInstall): string[] {
  return ofKind(objects, 'Gateway')
    .filter((gw) => !install.ingressGatewayLabels.some((labels) => selects(gw.spec?.selector, labels)))
    .map(
      (gw) =>
        `${describe(gw)}: selector ${JSON.stringify(gw.spec?.selector)} matches no ingress gateway of istio/install`,
    );
}

function policyTargets(objects: K8sObject[], policy: K8sObject): Workload[] {
  const selector = policy.spec?.selector?.matchLabels;
  return workloads(objects).filter((w) => w.namespace === ns(policy) && (!selector || selects(selector, w.labels)));
}

/** Principals name ServiceAccounts that exist (here or in the Istio install); selectors and ports resolve. */
export function authorizationProblems(objects: K8sObject[], install: MeshInstall): string[] {
  const problems: string[] = [];
  for (const policy of ofKind(objects, 'AuthorizationPolicy')) {
    const targets = policyTargets(objects, policy);
    if (policy.spec?.selector && targets.length === 0) problems.push(`${describe(policy)}: selector matches no pods`);
    const targetPorts = new Set(
      targets.flatMap((w) => w.pod.containers.flatMap((c) => (c.ports ?? []).map((p) => String(p.containerPort)))),
    );
    for (const rule of policy.spec?.rules ?? []) {
      for (const from of rule.from ?? []) {
        for (const principal of [...(from.source?.principals ?? []), ...(from.source?.notPrincipals ?? [])]) {
          const m = new RegExp(`^${install.trustDomain.replace(/\./g, '\\.')}/ns/([^/]+)/sa/([^/]+)$`).exec(principal);
          const known = install.principals.has(principal) || (m && find(objects, 'ServiceAccount', m[2]!, m[1]!));
          if (!known)
            problems.push(
              `${describe(policy)}: principal ${principal} is no ServiceAccount of the manifests or the Istio install`,
            );
        }
      }
      for (const to of rule.to ?? []) {
        for (const port of to.operation?.ports ?? []) {
          if (!targetPorts.has(String(port)))
            problems.push(`${describe(policy)}: port ${port} is no container port of the pods it selects`);
        }
      }
    }
  }
  return problems;
}

/**
 * "Nothing reaches admin ports from outside": no Service exposes a service's admin port, no
 * ALLOW rule names it, and a DENY policy covering the pod names it.
 */
export function adminIsolationProblems(objects: K8sObject[], contracts: Contracts): string[] {
  const problems: string[] = [];
  const policies = ofKind(objects, 'AuthorizationPolicy');
  for (const w of workloads(objects)) {
    for (const c of w.pod.containers.filter((c) => isServiceImage(c.image))) {
      const admin = (c.ports ?? []).find((p) => p.name === contracts.containerPortNames.admin);
      if (!admin) continue;
      for (const service of ofKind(objects, 'Service').filter(
        (s) => ns(s) === w.namespace && selects(s.spec?.selector, w.labels),
      )) {
        for (const port of service.spec?.ports ?? []) {
          if (
            port.targetPort === admin.name ||
            port.targetPort === admin.containerPort ||
            port.port === admin.containerPort
          ) {
            problems.push(`${describe(service)}: exposes the admin port of ${describe(w.object)}`);
          }
        }
      }
      const applying = policies.filter(
        (p) => policyTargets(objects, p).includes(w) || policyTargets(objects, p).some((t) => t.object === w.object),
      );
      const portsOf = (p: K8sObject) =>
        (p.spec?.rules ?? []).flatMap((r: any) =>
          (r.to ?? []).flatMap((t: any) => t.operation?.ports ?? []).map(String),
        );
      const denied = applying.some(
        (p) => p.spec?.action === 'DENY' && portsOf(p).includes(String(admin.containerPort)),
      );
      if (!denied)
        problems.push(`${describe(w.object)}: no DENY AuthorizationPolicy covers admin port ${admin.containerPort}`);
      for (const p of applying.filter((p) => (p.spec?.action ?? 'ALLOW') === 'ALLOW')) {
        if (portsOf(p).includes(String(admin.containerPort)))
          problems.push(`${describe(p)}: allows admin port ${admin.containerPort}`);
      }
    }
  }
  return problems;
}

/** Telemetry names providers the install declares; tracing providers point at a Service port. */
export function telemetryProblems(objects: K8sObject[], install: MeshInstall): string[] {
  const problems: string[] = [];
  const declared = new Map(install.extensionProviders.map((p) => [p.name, p]));
  for (const telemetry of ofKind(objects, 'Telemetry')) {
    for (const section of ['tracing', 'accessLogging', 'metrics']) {
      for (const entry of telemetry.spec?.[section] ?? []) {
        for (const provider of entry.providers ?? []) {
          if (!declared.has(provider.name) && !builtInProviders.has(provider.name)) {
            problems.push(
              `${describe(telemetry)}: ${section} provider ${provider.name} is not in istio/install meshConfig.extensionProviders`,
            );
          }
        }
      }
    }
  }
  for (const provider of install.extensionProviders.filter((p) => p.service)) {
    const service = resolveService(objects, provider.service!, 'istio-system');
    const port = service?.spec?.ports?.find((p: any) => p.port === provider.port);
    if (!service) problems.push(`extension provider ${provider.name}: ${provider.service} is no Service`);
    else if (!port)
      problems.push(`extension provider ${provider.name}: ${describe(service)} has no port ${provider.port}`);
    else if (provider.kind === 'opentelemetry' && !/^grpc(-|$)/.test(port.name ?? '')) {
      problems.push(
        `extension provider ${provider.name}: OTLP from Envoy is gRPC, but ${describe(service)} port ${port.port} is named ${port.name}`,
      );
    }
  }
  return problems;
}
