/**
 * Loose shapes of the Kubernetes and Istio objects the checks read. The manifests are validated
 * against their full schemas elsewhere (schema.ts); here only the fields the rules look at.
 */
export interface Metadata {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: Metadata;
  spec?: any;
  data?: Record<string, string>;
  [key: string]: unknown;
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
}

export interface Container {
  name: string;
  image: string;
  imagePullPolicy?: string;
  command?: string[];
  args?: string[];
  ports?: ContainerPort[];
  env?: { name: string; value?: string; valueFrom?: any }[];
  envFrom?: any[];
  securityContext?: any;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  startupProbe?: any;
  readinessProbe?: any;
  livenessProbe?: any;
  lifecycle?: any;
  volumeMounts?: { name: string; mountPath: string }[];
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: any[];
  securityContext?: any;
  serviceAccountName?: string;
  terminationGracePeriodSeconds?: number;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
}

/** A Deployment (or other pod controller) seen through its pod template. */
export interface Workload {
  object: K8sObject;
  name: string;
  namespace: string;
  replicas: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  pod: PodSpec;
}

const podControllers = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);

export function workloads(objects: K8sObject[]): Workload[] {
  return objects
    .filter((o) => podControllers.has(o.kind))
    .map((o) => ({
      object: o,
      name: o.metadata.name,
      namespace: o.metadata.namespace ?? 'default',
      replicas: typeof o.spec?.replicas === 'number' ? o.spec.replicas : 1,
      labels: o.spec?.template?.metadata?.labels ?? {},
      annotations: o.spec?.template?.metadata?.annotations ?? {},
      pod: o.spec?.template?.spec ?? { containers: [] },
    }));
}

export function allContainers(pod: PodSpec): Container[] {
  return [...(pod.initContainers ?? []), ...pod.containers];
}

export function ofKind(objects: K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

export function find(objects: K8sObject[], kind: string, name: string, namespace?: string): K8sObject | undefined {
  return objects.find(
    (o) =>
      o.kind === kind &&
      o.metadata.name === name &&
      (namespace === undefined || (o.metadata.namespace ?? 'default') === namespace),
  );
}

/** A label selector's matchLabels (or a Service's plain map) against a set of labels. */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

export function describe(o: K8sObject): string {
  return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
}

/** Deep copy for the tests that break a manifest on purpose. */
export function clone<T>(value: T): T {
  return structuredClone(value);
}

/** Images built from this repository (docs/contracts.md, "Images"). */
export function isServiceImage(image: string): boolean {
  return image.startsWith('recipe-mesh/');
}

/** Kubernetes quantities to millicores and bytes. */
export function cpuMillis(q: string | undefined): number {
  if (!q) return 0;
  return q.endsWith('m') ? Number(q.slice(0, -1)) : Number(q) * 1000;
}

const memoryUnits: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
};

export function memoryBytes(q: string | undefined): number {
  if (!q) return 0;
  const m = /^([0-9.]+)([A-Za-z]*)$/.exec(q.trim());
  if (!m) return NaN;
  const unit = m[2] ?? '';
  if (unit === '') return Number(m[1]);
  const factor = memoryUnits[unit] ?? memoryUnits[unit.replace(/b$/i, '')];
  return factor === undefined ? NaN : Number(m[1]) * factor;
}
