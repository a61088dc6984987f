import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import {
  deleteInstance,
  type EnvChanges,
  restartInstance,
  startInstance,
  stopInstance,
} from '@recipe-mesh/lab/instances';
import { applyMeshConfig, currentMesh } from '@recipe-mesh/lab/lab';
import { clusterMembersFile } from '@recipe-mesh/lab/membership/controller';
import { afterProbe, httpProbe, initialProbeState, type ProbeState } from '@recipe-mesh/lab/membership/probe';
import { parseAccessLogLine } from '@recipe-mesh/measure/access-log';
import { labPaths, proxyFiles } from '@recipe-mesh/lab/paths';
import { isRunning } from '@recipe-mesh/lab/process/processes';
import { type LabState, type ProcessRecord, readState } from '@recipe-mesh/lab/process/state';
import { type ProbeTiming, probeSchema, probeTiming } from '@recipe-mesh/lab/workloads/manifests';
import { isServiceName, type ServiceName, serviceNames, serviceShapes } from '@recipe-mesh/lab/workloads/services';
import { pause, waitFor } from '@recipe-mesh/measure/net';
import type { KubeApi } from './api-client.js';
import { ingressGateway } from './ingress-gateway.js';
import { isReconciled, reconciledStatus } from '@recipe-mesh/experiments/k8s-mesh-push';
import { appliedComponents, type IstioObject, meshWith } from './mesh-follower.js';
import { podExec, redisPortEnv } from './pod-exec.js';

/**
 * The lab as a cluster's data plane: what a kubelet and a container runtime do for the pods of
 * web-api and recipe-api that the scheduler binds to a kwok node (the kwok Stages of
 * kwok-stages.ts leave those pods alone). For each such pod it
 * - runs a lab instance (with its inbound listeners on the service's sidecar Envoy): one the lab
 *   already runs and no pod holds, or a new one (lab/src/instances.ts);
 * - writes the pod's status as the kubelet would: Running with a pod IP, and Ready/ContainersReady
 *   from the instance's readiness probe, run with the pod's own probe settings (path, period,
 *   timeout, thresholds; lab/src/membership/probe.ts follows the kubelet's prober);
 * - serves `kubectl port-forward` and `kubectl logs` through kwok: a `PortForward` named as the pod
 *   maps its container ports to the instance's loopback ports, and a `Logs` names files in the CRI
 *   log format (kwok refuses plain lines) that this controller copies from the instance's log
 *   and from the lines of the service's sidecar access log that belong to the instance;
 * - on deletion, stops the instance as the kubelet stops a container: the pod's preStop sleep,
 *   SIGTERM, SIGKILL when the grace period runs out; then deletes the pod (the kubelet's final
 *   delete with grace 0).
 * Membership is the cluster's: the EndpointSlice controller lists a pod as ready from its Ready
 * condition, and this controller hands the ready pods' instances to the lab's endpoint controller
 * (clusterMembersFile), which publishes them to the callers' Envoys. The 10.x pod IP written
 * here is only a name in the API server: every endpoint is mapped back to its instance's loopback
 * ports by the pod it targets, so nothing dials a pod IP (docs/kubernetes.md).
 */

export interface DataPlaneOptions {
  api: KubeApi;
  namespace: string;
  /** The lab's root and state dir (a private lab: never the developer's `make up`). */
  lab: { root: string; stateDir: string };
  /** Where the pods' CRI-format log files go. */
  logDir: string;
  log: (line: string) => void;
  signal: AbortSignal;
}

export interface Pod {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    labels?: Record<string, string>;
    deletionTimestamp?: string;
    creationTimestamp?: string;
  };
  spec: {
    nodeName?: string;
    terminationGracePeriodSeconds?: number;
    containers: PodContainer[];
    initContainers?: (PodContainer & { restartPolicy?: string })[];
  };
  status?: { phase?: string; podIP?: string };
}

interface PodContainer {
  name: string;
  env?: { name: string; value?: string }[];
  image?: string;
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: unknown;
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
}

/**
 * The env a pod's app container sets beyond the manifests (`kubectl set env deploy/recipe-api
 * FAULTS=…`, docs/kubernetes.md): its instance runs with it. A name set for an earlier pod and
 * absent from this one is removed (null). The manifests' own env is the lab's translation of it
 * (ports, Redis' address), so those names stay the lab's.
 */
export function podEnvChanges(
  container: PodContainer,
  manifestEnv: Record<string, string>,
  earlier: Iterable<string>,
): EnvChanges {
  const changes: EnvChanges = Object.fromEntries([...earlier].map((name) => [name, null]));
  for (const { name, value } of container.env ?? [])
    if (value !== undefined && !(name in manifestEnv)) changes[name] = value;
  return changes;
}

/** True when an instance's env already is what the changes ask for. */
export function envHolds(env: Record<string, string>, changes: EnvChanges): boolean {
  return Object.entries(changes).every(([name, value]) => (value === null ? !(name in env) : env[name] === value));
}

/**
 * The probe as the app answers it. Istio's injection rewrites an HTTP probe to pilot-agent's
 * `/app-health/<container>/readyz` on port 15020 and keeps the original in the sidecar's
 * `ISTIO_KUBE_APP_PROBERS` (istio/istio pkg/kube/inject/app_probe.go); pilot-agent then probes
 * the app with it. The lab has no pilot-agent, so the original path is probed directly, with the
 * rewritten probe's timing (period, thresholds), which the rewrite keeps.
 */
export function appProbe(pod: Pod, probe: unknown): unknown {
  const path = (probe as { httpGet?: { path?: string } } | undefined)?.httpGet?.path;
  if (!path?.startsWith('/app-health/')) return probe;
  const probers = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])]
    .flatMap((c) => c.env ?? [])
    .find((e) => e.name === 'ISTIO_KUBE_APP_PROBERS')?.value;
  const original = probers
    ? (JSON.parse(probers) as Record<string, { httpGet?: { path?: string } }>)[path]?.httpGet?.path
    : undefined;
  if (!original) return probe;
  const rewritten = probe as { httpGet: object };
  return { ...rewritten, httpGet: { ...rewritten.httpGet, path: original } };
}

interface EndpointSlice {
  metadata: { labels?: Record<string, string> };
  endpoints?: { conditions?: { ready?: boolean }; targetRef?: { kind?: string; uid?: string } }[];
}

/** One pod held by an instance. */
interface Binding {
  pod: string;
  uid: string;
  service: ServiceName;
  instance: string;
  podIP: string;
  startedAt: string;
  /** The readiness last written to the pod's status (null: not yet written). */
  written: boolean | null;
  probe: ProbeState | null;
  timing: ProbeTiming | null;
  terminating: boolean;
  /** kwok's PortForward and Logs exist for it (once the instance has its ports). */
  published: boolean;
  /** Its process key when probing began: a restarted instance is probed afresh. */
  processKey: string | null;
}

/**
 * A pod kwok runs (its Stages) whose ports and logs are a lab process': the platform's Prometheus
 * and Redis are the lab's, the ingress gateway's pod is the lab's ingress Envoy.
 */
export interface Satellite {
  namespace: string;
  /** The pods' `app` label. */
  app: string;
  /** Container port → the lab's loopback port. */
  forwards: Record<number, number>;
  /** Container name → a file of the lab's, copied into the pod's log in the CRI format. */
  logs: Record<string, string>;
  /** `kubectl exec` into the pod: its commands run here with these envs (pod-exec.ts). */
  execEnvs?: Record<string, string>;
}

/** The satellites of a lab (its state's ports and files). */
export function satellitesOf(state: LabState, paths: ReturnType<typeof labPaths>, namespace: string): Satellite[] {
  const gatewayLog = proxyFiles(paths, 'ingress').accessLog;
  return [
    { namespace, app: 'prometheus', forwards: { 9090: state.ports.prometheus }, logs: {} },
    {
      namespace,
      app: 'redis',
      forwards: { 6379: state.ports.redis },
      logs: {},
      execEnvs: { [redisPortEnv]: String(state.ports.redis) },
    },
    {
      namespace: ingressGateway.namespace,
      app: ingressGateway.app,
      // Istio's gateway: traffic on 8080 (the Service's http2 targetPort), Envoy's admin on the
      // pod's localhost:15000, its Prometheus endpoint on 15090 (the lab Envoy serves the same
      // /stats/prometheus on its admin port).
      forwards: { 8080: state.ports.ingress, 15000: state.ports.ingressAdmin, 15090: state.ports.ingressAdmin },
      logs: { 'istio-proxy': gatewayLog },
    },
  ];
}

const tickMs = 200;
const instanceTimeoutMs = 120_000;
/** The data plane's pods: the services the lab runs (lab/src/workloads/services.ts). */
export const dataPlaneSelector = `app in (${serviceNames.join(',')})`;

/** The kubelet's name for a container's port, as the lab names the instance's app port. */
function appPortOf(portName: string | undefined): string | null {
  if (!portName) return null;
  return portName === 'http-admin' ? 'admin' : portName;
}

/** Pod files under `logDir`, like the kubelet's /var/log/pods/<namespace>_<pod>_<uid>/<container>. */
export function podLogFile(logDir: string, pod: { namespace: string; name: string }, container: string): string {
  return path.join(logDir, `${pod.namespace}_${pod.name}`, `${container}.log`);
}

/** One line as a container runtime writes it (`<RFC3339Nano> stdout F <line>`), which kubectl logs strips. */
export function criLine(line: string, at = new Date()): string {
  return `${at.toISOString()} stdout F ${line}\n`;
}

/**
 * The instance whose inbound hop logged an access-log line (`inbound|4000||recipe-api-2`; the
 * first instance keeps `inbound|4000||`, lab/src/mesh/endpoints.ts), or null for an outbound or
 * gateway line.
 */
export function inboundInstanceOf(line: string, service: ServiceName): string | null {
  const cluster = parseAccessLogLine(line)?.upstreamCluster ?? '';
  const match = /^inbound\|\d+\|\|(.*)$/.exec(cluster);
  if (!match) return null;
  return match[1] || service;
}

/** A file followed from an offset, complete lines only. */
class Follower {
  private offset = 0;
  private rest = '';
  constructor(readonly file: string) {}
  read(): string[] {
    if (!existsSync(this.file)) return [];
    const size = statSync(this.file).size;
    if (size < this.offset) this.offset = 0;
    if (size === this.offset) return [];
    const fd = openSync(this.file, 'r');
    const buffer = Buffer.alloc(size - this.offset);
    readSync(fd, buffer, 0, buffer.length, this.offset);
    closeSync(fd);
    this.offset = size;
    const text = this.rest + buffer.toString('utf8');
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    return lines;
  }
}

function appendLines(file: string, lines: string[]): void {
  if (lines.length === 0) return;
  mkdirSync(path.dirname(file), { recursive: true });
  const at = new Date();
  writeFileSync(file, lines.map((l) => criLine(l, at)).join(''), { flag: 'a' });
}

/** One at a time: the lab's instance calls read, change and write its state.json. */
class Queue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => {});
    return next;
  }
}

export async function runDataPlane(options: DataPlaneOptions): Promise<void> {
  const { api, namespace, log } = options;
  const labOptions = { ...options.lab, timeoutMs: instanceTimeoutMs };
  const paths = labPaths(options.lab);
  const bindings = new Map<string, Binding>();
  const busy = new Set<string>();
  const queue = new Queue();
  const appLogs = new Map<string, Follower>();
  const sidecarLogs = new Map<ServiceName, Follower>();
  let podIpCounter = 0;
  /** Every env name a pod set beyond the manifests (podEnvChanges): a later pod without it drops it. */
  const podEnvNames = new Set<string>();
  let publishedMembers: string | null = null;
  const podsPath = `/api/v1/namespaces/${namespace}/pods`;

  const labState = (): LabState => {
    const state = readState(paths.stateDir);
    if (!state) throw new Error(`the data plane's lab is not up (${paths.stateDir})`);
    return state;
  };
  const recordOf = (state: LabState, name: string): ProcessRecord | undefined =>
    state.processes.find((p) => p.name === name && p.instance);

  /** An instance for a new pod: a running one no pod holds, a stopped one, or a new one. */
  const bind = async (pod: Pod, service: ServiceName): Promise<void> => {
    const state = labState();
    const held = new Set([...bindings.values()].map((b) => b.instance));
    const container = pod.spec.containers.find((c) => c.name === service) ?? pod.spec.containers[0]!;
    const env = podEnvChanges(container, state.pods?.[service]?.env ?? {}, podEnvNames);
    for (const name of Object.keys(env)) podEnvNames.add(name);
    const free = state.processes.filter((p) => p.instance?.service === service && !held.has(p.name));
    // A running instance serves the pod only when it already runs with the pod's env.
    const running = free.find((p) => isRunning(p) && envHolds(p.env ?? {}, env));
    const stopped = free.find((p) => !isRunning(p));
    const instance = running?.name ?? stopped?.name ?? `${service}-${(state.instancesStarted?.[service] ?? 1) + 1}`;
    const parsedProbe = probeSchema.safeParse(appProbe(pod, container.readinessProbe));
    podIpCounter += 1;
    const binding: Binding = {
      pod: pod.metadata.name,
      uid: pod.metadata.uid,
      service,
      instance,
      podIP: `10.0.1.${(podIpCounter % 250) + 1}`,
      startedAt: new Date().toISOString(),
      written: null,
      probe: null,
      timing: parsedProbe.success ? probeTiming(parsedProbe.data) : null,
      terminating: false,
      published: false,
      processKey: null,
    };
    bindings.set(pod.metadata.uid, binding);
    log(`pod ${pod.metadata.name}: instance ${instance} (${running ? 'running' : stopped ? 'restarted' : 'new'})`);
    if (running) return;
    // These return once callers' Envoys list the instance, which needs the pod Ready first: the
    // loop below writes its status meanwhile. The queue is held only until the instance's process
    // is in the lab's state (the last write either makes), so another pod's start or removal
    // need not wait for this one's readiness.
    const started = stopped ? restartInstance(labOptions, instance, env) : startInstance(labOptions, service, env);
    started.catch((error: Error) => log(`pod ${pod.metadata.name}: instance ${instance}: ${error.message}`));
    await Promise.race([
      started,
      waitFor(
        () => {
          const record = recordOf(labState(), instance);
          return record && isRunning(record) && (!stopped || record.pid !== stopped.pid) ? true : null;
        },
        { timeoutMs: instanceTimeoutMs, intervalMs: 50, what: `${instance}'s process in the lab's state` },
      ),
    ]);
  };

  /** kwok's PortForward and Logs for the pod (kwok.x-k8s.io/v1alpha1, matched by the pod's name and namespace). */
  const publishKwokResources = async (pod: Pod, binding: Binding, record: ProcessRecord): Promise<void> => {
    const appPorts = record.instance?.appPorts ?? {};
    const forwards = pod.spec.containers.flatMap((c) =>
      (c.ports ?? []).flatMap((p) => {
        const port = appPorts[appPortOf(p.name) ?? ''];
        return port ? [{ ports: [p.containerPort], target: { address: '127.0.0.1', port } }] : [];
      }),
    );
    await publishForwardsAndLogs(pod, forwards);
  };

  /** kwok's `PortForward` and `Logs` named as the pod: its ports and every container's log file. */
  const publishForwardsAndLogs = async (pod: Pod, forwards: object[]): Promise<void> => {
    const base = `/apis/kwok.x-k8s.io/v1alpha1/namespaces/${pod.metadata.namespace}`;
    const meta = { name: pod.metadata.name, namespace: pod.metadata.namespace };
    await api.apply(
      `${base}/portforwards/${meta.name}`,
      { apiVersion: 'kwok.x-k8s.io/v1alpha1', kind: 'PortForward', metadata: meta, spec: { forwards } },
      'recipe-mesh-data-plane',
    );
    const containers = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].map((c) => c.name);
    const logs = containers.map((c) => {
      const file = podLogFile(options.logDir, meta, c);
      mkdirSync(path.dirname(file), { recursive: true });
      if (!existsSync(file)) writeFileSync(file, '');
      return { containers: [c], logsFile: file, follow: true };
    });
    await api.apply(
      `${base}/logs/${meta.name}`,
      { apiVersion: 'kwok.x-k8s.io/v1alpha1', kind: 'Logs', metadata: meta, spec: { logs } },
      'recipe-mesh-data-plane',
    );
  };

  const publishExec = async (pod: Pod, envs: Record<string, string>): Promise<void> => {
    await api.apply(
      `/apis/kwok.x-k8s.io/v1alpha1/namespaces/${pod.metadata.namespace}/execs/${pod.metadata.name}`,
      podExec(pod.metadata, envs),
      'recipe-mesh-data-plane',
    );
  };

  /** The kubelet's status for the pod: Running, its IP, and readiness from the probe. */
  const writeStatus = async (pod: Pod, binding: Binding, ready: boolean): Promise<void> => {
    const now = new Date().toISOString();
    const condition = (type: string, status: boolean) => ({
      type,
      status: status ? 'True' : 'False',
      lastTransitionTime: now,
    });
    const running = { running: { startedAt: binding.startedAt } };
    await api.mergePatch(`${podsPath}/${pod.metadata.name}/status`, {
      status: {
        phase: 'Running',
        hostIP: '127.0.0.1',
        hostIPs: [{ ip: '127.0.0.1' }],
        podIP: binding.podIP,
        podIPs: [{ ip: binding.podIP }],
        startTime: binding.startedAt,
        conditions: [
          condition('PodReadyToStartContainers', true),
          condition('Initialized', true),
          condition('Ready', ready),
          condition('ContainersReady', ready),
          condition('PodScheduled', true),
        ],
        containerStatuses: pod.spec.containers.map((c) => ({
          name: c.name,
          image: c.image ?? '',
          imageID: '',
          containerID: `lab://${binding.instance}`,
          ready: c.name === binding.service ? ready : true,
          started: true,
          restartCount: 0,
          state: running,
        })),
        initContainerStatuses: (pod.spec.initContainers ?? []).map((c) => ({
          name: c.name,
          image: c.image ?? '',
          imageID: '',
          ready: true,
          restartCount: 0,
          ...(c.restartPolicy === 'Always'
            ? { started: true, state: running }
            : {
                started: false,
                state: {
                  terminated: { exitCode: 0, reason: 'Completed', startedAt: binding.startedAt, finishedAt: now },
                },
              }),
        })),
      },
    });
    binding.written = ready;
    log(`pod ${pod.metadata.name}: Ready=${ready}`);
  };

  /** What the kubelet does for a deleted pod: preStop, SIGTERM, grace; then the final delete. */
  const terminate = async (pod: Pod, binding: Binding): Promise<void> => {
    binding.terminating = true;
    const container = pod.spec.containers.find((c) => c.name === binding.service);
    const preStopMs = (container?.lifecycle?.preStop?.sleep?.seconds ?? 0) * 1000;
    const record = recordOf(labState(), binding.instance);
    if (record && isRunning(record)) {
      // The pod's own preStop and grace period (a rollout may have removed the preStop).
      const ownPod = {
        preStopSleepMs: preStopMs,
        terminationGracePeriodMs: (pod.spec.terminationGracePeriodSeconds ?? 30) * 1000,
      };
      const stopped = await stopInstance({ ...labOptions, pod: ownPod }, binding.instance);
      log(
        `pod ${pod.metadata.name}: instance ${binding.instance} stopped (preStop ${stopped.preStopMs} ms, exited ${stopped.exitedAfterMs} ms after SIGTERM${stopped.killedAfterGrace ? ', SIGKILL after the grace period' : ''})`,
      );
    }
    await api
      .delete(`${podsPath}/${pod.metadata.name}`, {
        kind: 'DeleteOptions',
        apiVersion: 'v1',
        gracePeriodSeconds: 0,
        preconditions: { uid: pod.metadata.uid },
      })
      .catch((error: Error) => log(`pod ${pod.metadata.name}: final delete: ${error.message}`));
    bindings.delete(pod.metadata.uid);
    const siblings = labState().processes.filter((p) => p.instance?.service === binding.service).length;
    // The lab keeps its last instance of a service (stopped, for the next pod); others go.
    if (siblings > 1) await queue.run(() => deleteInstance(labOptions, binding.instance));
  };

  const spawnTask = (key: string, what: string, fn: () => Promise<void>) => {
    if (busy.has(key)) return;
    busy.add(key);
    fn()
      .catch((error: Error) => log(`${what}: ${error.message}`))
      .finally(() => busy.delete(key));
  };

  const probe = (binding: Binding, record: ProcessRecord, now: number) => {
    const timing = binding.timing;
    const processKey = `${record.pid}:${record.startTicks}`;
    if (binding.processKey !== processKey || !binding.probe) {
      binding.processKey = processKey;
      binding.probe = initialProbeState(now, timing ?? { ...noProbe, initialDelayMs: 0 });
    }
    if (!timing) {
      binding.probe = { ...binding.probe, ready: true };
      return;
    }
    const key = `probe:${binding.uid}`;
    if (now < binding.probe.dueAt || busy.has(key)) return;
    busy.add(key);
    const url = `http://127.0.0.1:${record.instance!.appPorts.admin}${timing.path}`;
    void httpProbe(url, timing.timeoutMs).then((passed) => {
      busy.delete(key);
      if (binding.probe && binding.processKey === processKey)
        binding.probe = afterProbe(binding.probe, passed, now, timing);
    });
  };

  const copyLogs = (state: LabState) => {
    const live = [...bindings.values()];
    for (const binding of live) {
      const record = recordOf(state, binding.instance);
      if (!record) continue;
      const key = `${binding.uid}:${record.log}`;
      let follower = appLogs.get(key);
      if (!follower) {
        follower = new Follower(record.log);
        appLogs.set(key, follower);
      }
      appendLines(podLogFile(options.logDir, { namespace, name: binding.pod }, binding.service), follower.read());
    }
    for (const service of serviceNames) {
      let follower = sidecarLogs.get(service);
      if (!follower) {
        follower = new Follower(proxyFiles(paths, serviceShapes[service].sidecar).accessLog);
        sidecarLogs.set(service, follower);
      }
      const pods = live.filter((b) => b.service === service).sort((a, b) => a.instance.localeCompare(b.instance));
      // One Envoy plays every pod's sidecar: an inbound line belongs to its instance's pod; an
      // outbound line cannot be told apart, so it goes to one pod of the service, counted once.
      const byPod = new Map<Binding, string[]>();
      for (const line of follower.read()) {
        const instance = inboundInstanceOf(line, service);
        const owner = instance ? pods.find((b) => b.instance === instance) : pods[0];
        if (!owner) continue;
        byPod.set(owner, [...(byPod.get(owner) ?? []), line]);
      }
      for (const [binding, lines] of byPod)
        appendLines(podLogFile(options.logDir, { namespace, name: binding.pod }, 'istio-proxy'), lines);
    }
  };

  const publishMembers = (slices: EndpointSlice[]) => {
    const byUid = new Map([...bindings.values()].map((b) => [b.uid, b]));
    const members = slices
      .filter((s) => isServiceName(s.metadata.labels?.['kubernetes.io/service-name'] ?? ''))
      .flatMap((s) => s.endpoints ?? [])
      .filter((e) => e.conditions?.ready === true && e.targetRef?.kind === 'Pod')
      .flatMap((e) => {
        const binding = byUid.get(e.targetRef!.uid ?? '');
        return binding ? [binding.instance] : [];
      })
      .sort();
    const key = members.join(',');
    if (key === publishedMembers) return;
    const file = clusterMembersFile(paths.stateDir);
    writeFileSync(`${file}.tmp`, JSON.stringify({ members }));
    renameSync(`${file}.tmp`, file);
    publishedMembers = key;
    log(`endpoints from EndpointSlices: [${members.join(', ')}]`);
  };

  const tick = async () => {
    const now = Date.now();
    const [pods, slices] = await Promise.all([
      api.get<{ items: Pod[] }>(`${podsPath}?labelSelector=${encodeURIComponent(dataPlaneSelector)}`),
      api.get<{ items: EndpointSlice[] }>(`/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`),
    ]);
    const state = labState();
    for (const pod of pods.items) {
      const service = pod.metadata.labels?.app ?? '';
      if (!isServiceName(service) || !pod.spec.nodeName) continue;
      const binding = bindings.get(pod.metadata.uid);
      if (!binding) {
        if (!pod.metadata.deletionTimestamp)
          spawnTask(`bind:${pod.metadata.uid}`, `pod ${pod.metadata.name}`, () => queue.run(() => bind(pod, service)));
        else spawnTask(`delete:${pod.metadata.uid}`, `pod ${pod.metadata.name}`, () => forceDelete(pod));
        continue;
      }
      if (pod.metadata.deletionTimestamp) {
        if (!binding.terminating)
          spawnTask(`stop:${pod.metadata.uid}`, `pod ${pod.metadata.name}`, () => terminate(pod, binding));
        continue;
      }
      const record = recordOf(state, binding.instance);
      if (!record || !isRunning(record)) continue;
      if (!binding.published)
        spawnTask(`kwok:${pod.metadata.uid}`, `pod ${pod.metadata.name} kwok resources`, async () => {
          await publishKwokResources(pod, binding, record);
          binding.published = true;
        });
      probe(binding, record, now);
      const ready = binding.probe?.ready ?? false;
      if (binding.written !== ready || pod.status?.phase !== 'Running')
        spawnTask(`status:${pod.metadata.uid}`, `pod ${pod.metadata.name} status`, () =>
          writeStatus(pod, binding, ready),
        );
    }
    // A pod gone without passing through termination (a forced delete): its instance stops too.
    for (const binding of bindings.values())
      if (!binding.terminating && !pods.items.some((p) => p.metadata.uid === binding.uid)) {
        binding.terminating = true;
        spawnTask(`gone:${binding.uid}`, `pod ${binding.pod}`, async () => {
          const record = recordOf(labState(), binding.instance);
          if (record && isRunning(record)) await stopInstance(labOptions, binding.instance);
          bindings.delete(binding.uid);
        });
      }
    publishMembers(slices.items);
    copyLogs(state);
    await tendSatellites(state);
  };

  // The lab's mesh as it started: the Istio objects of the manifests, without a fault.
  const baseMesh = currentMesh(options.lab);
  let meshKey = '';
  const followMesh = async () => {
    const collection = (plural: string) => `/apis/networking.istio.io/v1/namespaces/${namespace}/${plural}`;
    const istio = (plural: string, kind: string) =>
      api
        .get<{ items: IstioObject[] }>(collection(plural))
        .then((list) => list.items.map((o) => ({ ...o, kind, path: `${collection(plural)}/${o.metadata.name}` })));
    const objects = [
      ...(await istio('virtualservices', 'VirtualService')),
      ...(await istio('destinationrules', 'DestinationRule')),
    ];
    const components = appliedComponents(options.lab.root, objects);
    const key = components.join(',');
    if (key !== meshKey) {
      // Applied before the key is kept: a failed apply is tried again on the next round.
      await queue.run(() => applyMeshConfig(meshWith(baseMesh, components, options.lab.root), options.lab));
      meshKey = key;
      log(
        `mesh: ${components.length ? components.map((c) => `istio/faults/${c}`).join(', ') : 'the manifests, no fault'} (the lab's Envoys reloaded)`,
      );
    }
    // Every object the lab's Envoys now have, marked Reconciled at the generation read, as istiod
    // does with PILOT_ENABLE_STATUS once every proxy has acknowledged the push: the k8s target waits
    // for it before its load (experiments/src/targets/k8s.ts, waitForMeshPush).
    for (const object of objects.filter((o) => !isReconciled(o)))
      await api.mergePatch(`${object.path}/status`, reconciledStatus(object, "the lab's Envoys have this generation"));
  };

  const satellitePods = new Map<string, { pod: Pod; satellite: Satellite; followers: Map<string, Follower> }>();
  const tendSatellites = async (state: LabState) => {
    for (const satellite of satellitesOf(state, paths, namespace)) {
      const pods = await api.get<{ items: Pod[] }>(
        `/api/v1/namespaces/${satellite.namespace}/pods?labelSelector=${encodeURIComponent(`app=${satellite.app}`)}`,
      );
      for (const pod of pods.items) {
        if (!pod.spec.nodeName || satellitePods.has(pod.metadata.uid)) continue;
        const followers = new Map(Object.entries(satellite.logs).map(([c, file]) => [c, new Follower(file)]));
        satellitePods.set(pod.metadata.uid, { pod, satellite, followers });
        const forwards = Object.entries(satellite.forwards).map(([from, to]) => ({
          ports: [Number(from)],
          target: { address: '127.0.0.1', port: to },
        }));
        spawnTask(`satellite:${pod.metadata.uid}`, `pod ${pod.metadata.name}`, async () => {
          await publishForwardsAndLogs(pod, forwards);
          if (satellite.execEnvs) await publishExec(pod, satellite.execEnvs);
          log(`pod ${pod.metadata.namespace}/${pod.metadata.name}: ports and logs of the lab's ${satellite.app}`);
        });
      }
      for (const [uid, held] of satellitePods) {
        if (held.satellite.app !== satellite.app) continue;
        if (!pods.items.some((p) => p.metadata.uid === uid)) {
          satellitePods.delete(uid);
          continue;
        }
        for (const [container, follower] of held.followers)
          appendLines(podLogFile(options.logDir, held.pod.metadata, container), follower.read());
      }
    }
  };

  const forceDelete = (pod: Pod) =>
    api.delete(`${podsPath}/${pod.metadata.name}`, { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0 });

  // Its own loop: a mesh reload (up to 10 s) must not hold back probes and pod status.
  const meshLoop = async () => {
    while (!options.signal.aborted) {
      await followMesh().catch((error: Error) => log(`mesh: ${error.message}`));
      await pause(1000);
    }
  };
  void meshLoop();
  while (!options.signal.aborted) {
    try {
      await tick();
    } catch (error) {
      log(`data plane: ${(error as Error).message}`);
    }
    await pause(tickMs);
  }
}

/** A container without a readiness probe is ready once it runs (the kubelet's rule). */
const noProbe: ProbeTiming = {
  path: '/',
  periodMs: 1000,
  timeoutMs: 1000,
  failureThreshold: 1,
  successThreshold: 1,
  initialDelayMs: 0,
};

/** The file a data plane writes its pods' logs under, from the lab's state dir. */
export function dataPlaneLogDir(stateDir: string): string {
  return path.join(stateDir, 'pod-logs');
}

/** Read for tests: the members the data plane last handed to the lab. */
export function clusterMembers(stateDir: string): string[] {
  const file = clusterMembersFile(stateDir);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { members: string[] }).members : [];
}
