import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { K8sObject } from './objects.js';
import { repoPath } from './repo.js';

export const istioOperatorFile = 'istio/install/istio-operator.yaml';

export function readIstioOperator(file = repoPath(istioOperatorFile)): K8sObject {
  return parse(readFileSync(file, 'utf8')) as K8sObject;
}

/** What the manifests may rely on from the Istio installation. */
export interface MeshInstall {
  trustDomain: string;
  /** Principals of the workloads istioctl creates (the ingress gateway). */
  principals: Set<string>;
  /** Labels of the enabled ingress gateways' pods, for Gateway selectors. */
  ingressGatewayLabels: Record<string, string>[];
  extensionProviders: { name: string; service?: string; port?: number; kind: string }[];
  nativeSidecars: boolean;
  sidecarRequests: { cpu?: string; memory?: string };
  sidecarLimits: { cpu?: string; memory?: string };
  controlPlaneRequests: { cpu?: string; memory?: string }[];
  controlPlaneLimits: { cpu?: string; memory?: string }[];
}

export function meshInstall(operator: K8sObject = readIstioOperator()): MeshInstall {
  const spec = operator.spec ?? {};
  const trustDomain = spec.meshConfig?.trustDomain ?? 'cluster.local';
  const gateways = (spec.components?.ingressGateways ?? []).filter((g: any) => g.enabled !== false);
  const principals = new Set<string>();
  const ingressGatewayLabels: Record<string, string>[] = [];
  for (const g of gateways) {
    const namespace = g.namespace ?? 'istio-system';
    // istioctl names the gateway's ServiceAccount <name>-service-account and labels its pods
    // istio=<name without the "istio-" prefix> unless the component sets its own label.
    principals.add(`${trustDomain}/ns/${namespace}/sa/${g.name}-service-account`);
    ingressGatewayLabels.push({ istio: String(g.name).replace(/^istio-/, ''), ...(g.label ?? {}) });
  }
  const extensionProviders = (spec.meshConfig?.extensionProviders ?? []).map((p: any) => {
    const kind = Object.keys(p).find((k) => k !== 'name') ?? 'unknown';
    return { name: p.name, kind, service: p[kind]?.service, port: p[kind]?.port };
  });
  const env = spec.values?.pilot?.env ?? {};
  const proxy = spec.values?.global?.proxy?.resources ?? {};
  const controlPlane = [spec.components?.pilot, ...gateways].filter(Boolean);
  return {
    trustDomain,
    principals,
    ingressGatewayLabels,
    extensionProviders,
    nativeSidecars: String(env.ENABLE_NATIVE_SIDECARS) === 'true',
    sidecarRequests: proxy.requests ?? {},
    sidecarLimits: proxy.limits ?? {},
    controlPlaneRequests: controlPlane.map((c: any) => c.k8s?.resources?.requests ?? {}),
    controlPlaneLimits: controlPlane.map((c: any) => c.k8s?.resources?.limits ?? {}),
  };
}

/** Built-in providers every mesh has (meshConfig defaults), usable by Telemetry without declaring. */
export const builtInProviders = new Set(['envoy', 'prometheus']);
