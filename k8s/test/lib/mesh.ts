import { meshNamespace } from '@recipe-mesh/measure/mesh-namespace';
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import type { Contracts } from './contracts.js';
import { resolveService } from './crossrefs.js';
import { describe, ofKind, type K8sObject } from './objects.js';
import { repoPath } from './repo.js';

/**
 * The mesh behaviour docs/kubernetes.md promises, as rules over the install file and the rendered Istio
 * objects: access log, tracing at 100% to Tempo, STRICT mTLS, ingress to web-api only,
 * documented traffic policies, and fault components that change only mesh objects.
 */
export function installProblems(operator: K8sObject): string[] {
  const problems: string[] = [];
  const mesh = operator.spec?.meshConfig ?? {};
  if (mesh.accessLogFile !== '/dev/stdout') problems.push('istio install: meshConfig.accessLogFile is not /dev/stdout');
  if ((mesh.accessLogEncoding ?? 'TEXT') !== 'TEXT')
    problems.push("istio install: access log is not Istio's default TEXT format (with %RESPONSE_FLAGS%)");
  if (mesh.accessLogFormat)
    problems.push('istio install: a custom accessLogFormat replaces the default one the experiments parse');
  const otel = (mesh.extensionProviders ?? []).filter((p: any) => p.opentelemetry);
  if (otel.length === 0) problems.push('istio install: no OpenTelemetry tracing provider');
  if (mesh.enableTracing !== true) problems.push('istio install: meshConfig.enableTracing is not true');
  const gateways = (operator.spec?.components?.ingressGateways ?? []).filter((g: any) => g.enabled !== false);
  if (gateways.length === 0) problems.push('istio install: no ingress gateway');
  for (const g of gateways) {
    if (g.k8s?.service?.type !== 'LoadBalancer')
      problems.push(`istio install: ${g.name} is not a LoadBalancer (minikube tunnel gives it an address)`);
  }
  return problems;
}

export function telemetrySamplingProblems(objects: K8sObject[], rootNamespace = 'istio-system'): string[] {
  const meshWide = ofKind(objects, 'Telemetry').filter(
    (t) => t.metadata.namespace === rootNamespace && !t.spec?.selector,
  );
  const tracing = meshWide.flatMap((t) => t.spec?.tracing ?? []);
  if (tracing.length === 0) return [`no mesh-wide Telemetry (namespace ${rootNamespace}) configures tracing`];
  const problems: string[] = [];
  for (const t of tracing) {
    if (t.randomSamplingPercentage !== 100)
      problems.push(`Telemetry tracing samples ${t.randomSamplingPercentage ?? 'the default'}%, the demo needs 100`);
    if (!(t.providers ?? []).some((p: any) => p.name === 'tempo'))
      problems.push('Telemetry tracing does not name the tempo provider');
  }
  if (!meshWide.some((t) => (t.spec?.accessLogging ?? []).length))
    problems.push('no mesh-wide Telemetry turns on access logging');
  return problems;
}

export function mtlsProblems(objects: K8sObject[], namespace = meshNamespace): string[] {
  const policies = ofKind(objects, 'PeerAuthentication');
  const namespaceWide = policies.find((p) => p.metadata.namespace === namespace && !p.spec?.selector);
  const problems: string[] = [];
  if (namespaceWide?.spec?.mtls?.mode !== 'STRICT') problems.push(`PeerAuthentication for ${namespace} is not STRICT`);
  for (const p of policies) {
    if (p.spec?.mtls?.mode && p.spec.mtls.mode !== 'STRICT') problems.push(`${describe(p)}: mode ${p.spec.mtls.mode}`);
    for (const [port, setting] of Object.entries(p.spec?.portLevelMtls ?? {})) {
      if ((setting as any).mode !== 'STRICT') problems.push(`${describe(p)}: port ${port} is ${(setting as any).mode}`);
    }
  }
  return problems;
}

/** Every route of a Gateway-bound VirtualService ends at web-api's traffic port. */
export function ingressProblems(objects: K8sObject[], contracts: Contracts): string[] {
  const problems: string[] = [];
  const web = contracts.services.find((s) => s.name === 'web-api')!;
  const bound = ofKind(objects, 'VirtualService').filter((vs) =>
    (vs.spec?.gateways ?? []).some((g: string) => g !== 'mesh'),
  );
  if (bound.length === 0) problems.push('no VirtualService routes the ingress');
  for (const vs of bound) {
    for (const kind of ['http', 'tcp', 'tls']) {
      for (const route of vs.spec?.[kind] ?? []) {
        const destinations = [
          ...(route.route ?? []).map((r: any) => r.destination),
          ...(route.mirror ? [route.mirror] : []),
        ];
        if (route.redirect || route.directResponse) continue;
        for (const d of destinations) {
          const service = resolveService(objects, d?.host ?? '', vs.metadata.namespace ?? 'default');
          if (service?.metadata.name !== 'web-api' || !web.trafficPorts.includes(d.port?.number)) {
            problems.push(
              `${describe(vs)}: the ingress reaches ${d?.host}:${d?.port?.number ?? '?'}, only web-api:${web.trafficPorts.join('/')} may be reached`,
            );
          }
        }
      }
    }
  }
  return problems;
}

/** The DestinationRules state connection pool (with the idle timeout) and outlier detection. */
export function trafficPolicyProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const rules = ofKind(objects, 'DestinationRule');
  for (const name of ['web-api', 'recipe-api']) {
    const dr = rules.find((r) => r.metadata.name === name);
    const policy = dr?.spec?.trafficPolicy;
    if (!dr) problems.push(`no DestinationRule ${name}`);
    else {
      if (!policy?.connectionPool?.tcp?.maxConnections)
        problems.push(`${describe(dr)}: no connectionPool.tcp.maxConnections`);
      if (!policy?.connectionPool?.http?.idleTimeout)
        problems.push(`${describe(dr)}: no connectionPool.http.idleTimeout (the 503 UC setting)`);
      if (!policy?.outlierDetection?.consecutive5xxErrors) problems.push(`${describe(dr)}: no outlierDetection`);
      if ((policy?.outlierDetection?.maxEjectionPercent ?? 10) >= 100)
        problems.push(`${describe(dr)}: outlier detection may eject every pod`);
    }
  }
  return problems;
}

const key = (o: K8sObject) => `${o.apiVersion}|${o.kind}|${o.metadata.namespace ?? ''}|${o.metadata.name}`;

/** The objects a fault component adds, removes or changes, compared with the plain overlay. */
export function changedObjects(base: K8sObject[], withFault: K8sObject[]): string[] {
  const before = new Map(base.map((o) => [key(o), o]));
  const after = new Map(withFault.map((o) => [key(o), o]));
  const changed = new Set<string>();
  for (const [k, o] of after) if (!before.has(k) || !isDeepStrictEqual(before.get(k), o)) changed.add(k);
  for (const k of before.keys()) if (!after.has(k)) changed.add(k);
  return [...changed].sort();
}

export function faultProblems(fault: string, changed: string[]): string[] {
  if (changed.length === 0) return [`${fault}: changes nothing`];
  return changed
    .filter((k) => !k.startsWith('networking.istio.io/'))
    .map((k) => `${fault}: changes ${k.split('|').slice(1).join(' ')}, which is not a mesh object`);
}

/** istio/faults/README.md has a row for each fault component. */
export function faultDocumentationProblems(
  faults: string[],
  readme = readFileSync(repoPath('istio/faults/README.md'), 'utf8'),
): string[] {
  return faults
    .filter((f) => !readme.includes(`| \`${f.split('/').pop()}\` |`))
    .map((f) => `istio/faults/README.md: no row for ${f}`);
}
