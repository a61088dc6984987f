import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, pollUntil } from '@recipe-mesh/measure/net';
import { parse } from 'yaml';
import { isBuilt } from '../../kube/build.js';
import { builtFile, controlPlaneSkipReason, type TestPlatform } from './control-plane.js';
import { connectProxy, type ProxyNode, proxyId, type XdsConnection } from './istiod-xds.js';
import { parseYamlDocuments } from './kustomize.js';
import type { K8sObject } from './objects.js';
import { repoPath } from './repo.js';

/**
 * A real istiod (pilot-discovery, built from the istio.io/istio version istioctl comes from:
 * k8s/kube/versions.ts) against a test's private control plane, configured as
 * `istioctl manifest generate -f istio/install/istio-operator.yaml` configures it: the `istio`
 * ConfigMap's mesh config and the istiod Deployment's environment. Every port is moved off its
 * default to a free loopback port (8080 is the lab ingress, 15010–15017 and 9876 may be taken on a
 * shared machine). Only configuration is read from it: the clusters it describes carry kwok pod
 * and Service addresses (10.x) that nothing here sends traffic to.
 */

export function istiodSkipReason(): string | null {
  const reason = controlPlaneSkipReason();
  if (reason) return reason;
  if (isBuilt('pilot-discovery')) return null;
  const missing = 'pilot-discovery not built: run make kube-build';
  if (process.env.CI === 'true') throw new Error(`CI=true but ${missing}`);
  return missing;
}

/** What `istioctl manifest generate` of the project's install file renders. */
export interface GeneratedInstall {
  objects: K8sObject[];
  /** The `istio` ConfigMap's `mesh` (the mesh config istiod reads), as YAML text. */
  meshText: string;
  mesh: MeshConfig;
}

/** The parts of Istio's MeshConfig the suite reads. */
export interface MeshConfig {
  accessLogFile?: string;
  accessLogEncoding?: string;
  defaultProviders?: { metrics?: string[]; tracing?: string[]; accessLogging?: string[] };
  extensionProviders?: { name: string; prometheus?: object; opentelemetry?: object; envoyFileAccessLog?: object }[];
  [key: string]: unknown;
}

export function generatedInstall(platform: TestPlatform): GeneratedInstall {
  const run = platform.istioctl(['manifest', 'generate', '-f', repoPath('istio/install/istio-operator.yaml')]);
  if (run.status !== 0) throw new Error(`istioctl manifest generate failed:\n${run.stderr}`);
  const objects = parseYamlDocuments(run.stdout);
  const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'istio');
  const meshText = configMap?.data?.mesh;
  if (!meshText) throw new Error('the generated manifest has no istio ConfigMap with a mesh');
  return { objects, meshText, mesh: parse(meshText) as MeshConfig };
}

/**
 * True when the install config enables Istio's Prometheus metrics provider, the condition under
 * which istiod adds the `istio.stats` HTTP filter (istio/istio pilot/pkg/model/telemetry.go): by
 * the mesh config's `defaultProviders.metrics` or a mesh-wide Telemetry resource's `metrics`
 * (istio/telemetry.yaml). `prometheus` is a built-in provider name unless the mesh redefines it.
 */
export function meshHasPrometheusMetrics(mesh: MeshConfig, telemetry: K8sObject[]): boolean {
  const providers = new Map((mesh.extensionProviders ?? []).map((p) => [p.name, p]));
  const isPrometheus = (name: string) =>
    providers.has(name) ? providers.get(name)?.prometheus !== undefined : name === 'prometheus';
  const fromTelemetry = telemetry.flatMap((t) =>
    ((t.spec as { metrics?: { providers?: { name: string }[] }[] } | undefined)?.metrics ?? []).flatMap((m) =>
      (m.providers ?? []).map((p) => p.name),
    ),
  );
  return [...(mesh.defaultProviders?.metrics ?? []), ...fromTelemetry].some(isPrometheus);
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

interface Container {
  name: string;
  args?: string[];
  env?: EnvVar[];
}

function containers(object: K8sObject): Container[] {
  const spec = (object as { spec?: { template?: { spec?: PodSpec } } & PodSpec }).spec;
  const pod = spec?.template?.spec ?? spec;
  return [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])];
}

interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
  serviceAccountName?: string;
  nodeName?: string;
}

export interface Istiod {
  /** 127.0.0.1:<port> of the plaintext xDS server (istiod's 15010). */
  xdsAddress: string;
  /** http://127.0.0.1:<port> of the debug/ready server (istiod's 8080). */
  debugUrl: string;
  log: string;
  stop(): Promise<void>;
}

/** Starts pilot-discovery against the platform's API server; resolves once /ready answers 200. */
export async function startIstiod(platform: TestPlatform, install: GeneratedInstall): Promise<Istiod> {
  const binary = builtFile('pilot-discovery', 'pilot-discovery');
  if (!binary) throw new Error('pilot-discovery not built: run make kube-build');
  const dir = path.join(platform.workDir, 'istiod');
  mkdirSync(dir, { recursive: true });
  const meshFile = path.join(dir, 'mesh.yaml');
  writeFileSync(meshFile, install.meshText);
  const deployment = install.objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'istiod');
  const discovery = deployment ? containers(deployment).find((c) => c.name === 'discovery') : undefined;
  if (!discovery) throw new Error('the generated manifest has no istiod Deployment with a discovery container');
  // The Deployment's literal settings (PILOT_*, ENABLE_NATIVE_SIDECARS from the install file, ...);
  // the downward-API ones are the pod's name and namespace, given here.
  const deploymentEnv = Object.fromEntries(
    (discovery.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value as string]),
  );
  const [grpc, http, https, secureGrpc, monitoring, ctrlz] = await Promise.all(Array.from({ length: 6 }, freePort));
  const log = path.join(dir, 'istiod.log');
  const out = openSync(log, 'a');
  const child: ChildProcess = spawn(
    binary,
    [
      'discovery',
      `--kubeconfig=${platform.cluster.kubeconfig}`,
      `--meshConfig=${meshFile}`,
      `--grpcAddr=127.0.0.1:${grpc}`,
      `--httpAddr=127.0.0.1:${http}`,
      `--httpsAddr=127.0.0.1:${https}`,
      `--secureGRPCAddr=127.0.0.1:${secureGrpc}`,
      `--monitoringAddr=127.0.0.1:${monitoring}`,
      `--ctrlz_port=${ctrlz}`,
      '--ctrlz_address=127.0.0.1',
      '--log_output_level=default:warn',
    ],
    {
      // istiod writes its self-signed serving certificates under ./var/run/secrets (relative).
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: dir,
        ...deploymentEnv,
        POD_NAME: 'istiod-test',
        POD_NAMESPACE: 'istio-system',
        // The kubeconfig's context, not in-cluster credentials.
        KUBECONFIG: platform.cluster.kubeconfig,
      },
      stdio: ['ignore', out, out],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const debugUrl = `http://127.0.0.1:${http}`;
  const ready = await pollUntil(
    async () => {
      if (child.exitCode !== null) throw new Error(`istiod exited ${child.exitCode}`);
      const response = await fetch(`${debugUrl}/ready`);
      return response.status === 200;
    },
    { timeoutMs: 120_000, intervalMs: 250 },
  );
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    const forced = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(forced);
  };
  if (!ready.value) {
    await stop();
    throw new Error(`istiod not ready in 120 s (${String(ready.lastError)}); log:\n${tail(log)}`);
  }
  return { xdsAddress: `127.0.0.1:${grpc}`, debugUrl, log, stop };
}

export function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

interface Pod extends K8sObject {
  spec: PodSpec;
  status?: { podIP?: string };
}

/** The pods with `label` in `namespace` that kwok has given an IP and that are not being deleted. */
export function podsOf(platform: TestPlatform, namespace: string, label: string): Pod[] {
  const list = JSON.parse(platform.cluster.kubectl(['-n', namespace, 'get', 'pods', '-l', label, '-o', 'json'])) as {
    items: (Pod & { metadata: { deletionTimestamp?: string } })[];
  };
  const pods = list.items.filter((p) => p.status?.podIP && !p.metadata.deletionTimestamp);
  if (pods.length === 0) throw new Error(`no pod with an IP for ${label} in ${namespace}`);
  return pods;
}

/**
 * The node a pod's istio-proxy presents to istiod, as pilot-agent builds it (istio/istio
 * pkg/bootstrap/config.go, getNodeMetaData): its ISTIO_META_* variables without the prefix, the
 * pod's labels, namespace, IP and service account, and `PROXY_CONFIG`. The version is the one
 * `make istio-install` deploys (make/k8s.mk ISTIO_VERSION).
 */
export function proxyNode(pod: Pod, istioVersion: string): ProxyNode {
  const proxy = containers(pod).find((c) => c.name === 'istio-proxy');
  if (!proxy) throw new Error(`${pod.metadata.name} has no istio-proxy container`);
  const field = (fieldPath: string): string => {
    const values: Record<string, string | undefined> = {
      'metadata.name': pod.metadata.name,
      'metadata.namespace': pod.metadata.namespace,
      'status.podIP': pod.status?.podIP,
      'spec.serviceAccountName': pod.spec.serviceAccountName,
      'spec.nodeName': pod.spec.nodeName,
    };
    return values[fieldPath] ?? '';
  };
  const env = new Map(
    (proxy.env ?? []).map((e) => [
      e.name,
      e.value ?? (e.valueFrom?.fieldRef ? field(e.valueFrom.fieldRef.fieldPath) : ''),
    ]),
  );
  const metadata: ProxyNode['metadata'] = {};
  for (const [name, value] of env) {
    if (name.startsWith('ISTIO_META_')) metadata[name.slice('ISTIO_META_'.length)] = value;
    if (name.startsWith('ISTIO_METAJSON_')) metadata[name.slice('ISTIO_METAJSON_'.length)] = JSON.parse(value);
  }
  const namespace = pod.metadata.namespace ?? 'default';
  const ip = pod.status?.podIP ?? '';
  Object.assign(metadata, {
    NAMESPACE: namespace,
    NAME: pod.metadata.name,
    LABELS: pod.metadata.labels ?? {},
    INSTANCE_IPS: ip,
    SERVICE_ACCOUNT: pod.spec.serviceAccountName ?? 'default',
    NODE_NAME: pod.spec.nodeName ?? '',
    ISTIO_VERSION: istioVersion,
    ...(env.get('PROXY_CONFIG') ? { PROXY_CONFIG: JSON.parse(env.get('PROXY_CONFIG') as string) } : {}),
  });
  const type = proxy.args?.includes('router') ? 'router' : 'sidecar';
  const app = pod.metadata.labels?.app ?? pod.metadata.labels?.istio ?? pod.metadata.name;
  return {
    id: `${type}~${ip}~${pod.metadata.name}.${namespace}~${namespace}.svc.cluster.local`,
    cluster: `${app}.${namespace}`,
    metadata,
  };
}

/** Istio's version `make istio-install` deploys (make/k8s.mk ISTIO_VERSION). */
export function installedIstioVersion(): string {
  const match = /^ISTIO_VERSION := (\S+)$/m.exec(readFileSync(repoPath('make/k8s.mk'), 'utf8'));
  if (!match?.[1]) throw new Error('make/k8s.mk has no ISTIO_VERSION');
  return match[1];
}

/** Waits until istiod no longer lists a closed connection of `node` (so a new one is the one it answers for). */
export async function waitForDisconnect(istiod: Istiod, node: ProxyNode): Promise<void> {
  const id = proxyId(node);
  await pollUntil(
    async () => {
      const status = (await (await fetch(`${istiod.debugUrl}/debug/syncz`)).json()) as { proxy?: string }[];
      return !status.some((s) => s.proxy?.startsWith(id));
    },
    { timeoutMs: 10_000, intervalMs: 100 },
  );
}

export interface ConnectedProxy {
  node: ProxyNode;
  connection: XdsConnection;
}

/** Connects `node` and waits until istiod lists the connection (its debug endpoints then answer for it). */
export async function connect(istiod: Istiod, node: ProxyNode, routeNames: string[]): Promise<ConnectedProxy> {
  let failure: Error | null = null;
  const connection = connectProxy(istiod.xdsAddress, node, routeNames, (error) => {
    failure = error;
  });
  const id = proxyId(node);
  const seen = await pollUntil(
    async () => {
      if (failure) throw failure;
      const response = await fetch(`${istiod.debugUrl}/debug/syncz`);
      const status = (await response.json()) as { proxy?: string }[];
      return status.some((s) => s.proxy?.startsWith(id));
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  if (!seen.value) {
    connection.close();
    throw new Error(`istiod did not register ${id} (${String(seen.lastError)}); log:\n${tail(istiod.log)}`);
  }
  return { node, connection };
}

/** The Envoy admin ConfigDump istiod generates for a connected proxy. */
export async function configDump(istiod: Istiod, node: ProxyNode): Promise<EnvoyConfigDump> {
  const response = await fetch(`${istiod.debugUrl}/debug/config_dump?proxyID=${encodeURIComponent(proxyId(node))}`);
  const body = await response.text();
  if (response.status !== 200) throw new Error(`config_dump for ${proxyId(node)}: ${response.status} ${body}`);
  return protoNames(JSON.parse(body)) as EnvoyConfigDump;
}

/**
 * istiod's debug endpoint writes protobuf JSON with lowerCamelCase field names; the lab's files
 * (and Envoy's own admin dump) use the proto names. Field names are renamed back; map keys
 * (extension names such as `envoy.filters.http.fault`, `@type`) are left alone.
 */
export function protoNames(json: unknown): unknown {
  if (Array.isArray(json)) return json.map(protoNames);
  if (!json || typeof json !== 'object') return json;
  return Object.fromEntries(
    Object.entries(json).map(([key, value]) => [
      /^[a-z][A-Za-z0-9]*$/.test(key)
        ? key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/([a-z])5xx/g, '$1_5xx')
        : key,
      protoNames(value),
    ]),
  );
}

export interface EnvoyConfigDump {
  configs: { '@type': string; [key: string]: unknown }[];
}

/**
 * Waits until istiod's config store holds the cluster's current VirtualServices and
 * DestinationRules (each resourceVersion appears in `/debug/configz`); istiod then pushes them
 * after its debounce, which callers poll for.
 */
export async function waitForIstioConfig(platform: TestPlatform, istiod: Istiod): Promise<void> {
  const list = JSON.parse(
    platform.cluster.kubectl(['get', 'virtualservices,destinationrules', '--all-namespaces', '-o', 'json']),
  ) as { items: K8sObject[] };
  const versions = list.items.map((o) => (o.metadata as { resourceVersion?: string }).resourceVersion ?? '');
  const seen = await pollUntil(
    async () => {
      const text = await (await fetch(`${istiod.debugUrl}/debug/configz`)).text();
      return versions.every((v) => text.includes(`"${v}"`));
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  if (!seen.value) throw new Error(`istiod did not load resource versions ${versions.join(', ')} in 30 s`);
}

/** Waits until each Service's EndpointSlices list a ready endpoint (kube-controller-manager writes them). */
export async function waitForEndpoints(platform: TestPlatform, namespace: string, services: string[]): Promise<void> {
  const ready = await pollUntil(
    () => {
      const slices = JSON.parse(platform.cluster.kubectl(['-n', namespace, 'get', 'endpointslices', '-o', 'json'])) as {
        items: { metadata: { labels?: Record<string, string> }; endpoints?: { conditions?: { ready?: boolean } }[] }[];
      };
      return services.every((service) =>
        slices.items.some(
          (s) =>
            s.metadata.labels?.['kubernetes.io/service-name'] === service &&
            (s.endpoints ?? []).some((e) => e.conditions?.ready),
        ),
      );
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  if (!ready.value) throw new Error(`no ready endpoints for ${services.join(', ')} in 60 s`);
}
