import { patchFaults } from '@recipe-mesh/measure/admin-client';
import { freePort, pause, waitFor } from '@recipe-mesh/measure/net';
import { type EnvChanges, siblingSpec } from './components/launch-specs.js';
import { writeScrapeTargets } from './components/prometheus.js';
import { LabError } from './errors.js';
import { applyToProxies } from './mesh/apply.js';
import { envoyClusterHosts } from './mesh/envoy-admin.js';
import { edsTargets, proxyPorts, type Workloads } from './mesh/endpoints.js';
import { labPaths, proxyFiles, readMeshFile, type LabPaths } from './paths.js';
import { restartLabProcess, signalLabProcess } from './process-control.js';
import { isRunning, launch } from './process/processes.js';
import { readyCheck, waitReady } from './process/readiness.js';
import { readState, workloadsOf, writeState, type LabState, type ProcessRecord } from './process/state.js';
export type { EnvChanges } from './components/launch-specs.js';
import {
  instanceOnPorts,
  portsPerInstance,
  serviceNames,
  serviceShapes,
  type ServiceName,
} from './workloads/services.js';

/**
 * Instance drills on a running lab, for services started with replicas (readiness-driven
 * membership, membership/controller.ts): start a further instance, stop one (SIGTERM: the app's
 * own graceful-shutdown setting decides what follows) or kill it (SIGKILL), start it again, make
 * it unready and ready through its admin `unready` fault, and a rolling restart. Each call returns
 * once the condition holds where it matters: the process is ready or gone, and every caller's
 * Envoy lists the instance as a healthy endpoint or no longer lists it (admin /clusters).
 */

export interface InstanceOptions {
  root?: string;
  stateDir?: string;
  /** Deadline for each wait (default 30 s). */
  timeoutMs?: number;
}

const defaultTimeoutMs = 30_000;

function requireState(paths: LabPaths): LabState {
  const state = readState(paths.stateDir);
  if (!state) throw new LabError('the lab is not up (npm run lab -- up)');
  return state;
}

function instanceRecord(
  state: LabState,
  name: string,
): ProcessRecord & { instance: NonNullable<ProcessRecord['instance']> } {
  const record = state.processes.find((p) => p.name === name);
  if (!record?.instance) {
    const names = state.processes.filter((p) => p.instance).map((p) => p.name);
    throw new LabError(`the lab has no instance named ${name} (instances: ${names.join(', ')})`);
  }
  return record as ProcessRecord & { instance: NonNullable<ProcessRecord['instance']> };
}

function requireMembership(state: LabState, service: ServiceName): void {
  if (state.mode !== 'mesh' || !state.membership?.services.includes(service)) {
    throw new LabError(
      `${service} runs without readiness-driven membership: start the lab with replicas for it ` +
        `(npm run lab -- up --replicas ${service}=2, or startLab({ replicas: { '${service}': 2 } }))`,
    );
  }
}

/**
 * Whether each caller's Envoy lists the instance as a healthy endpoint of its cluster, one entry
 * per caller cluster (web-api's sidecar has two for recipe-api: HTTP and gRPC).
 */
export async function endpointListed(paths: LabPaths, state: LabState, record: ProcessRecord): Promise<boolean[]> {
  const mesh = readMeshFile(paths);
  const targets = edsTargets(mesh, state.membership?.services ?? []).filter(
    (t) => t.service === record.instance?.service,
  );
  return Promise.all(
    targets.map(async (target) => {
      const adminPort = mesh.proxies.find((p) => p.name === target.proxy)!.adminPort;
      const hosts = await envoyClusterHosts(adminPort, target.cluster);
      const port = record.instance!.inboundPorts[target.inboundListener];
      return hosts.some((h) => h.port === port && h.healthy);
    }),
  );
}

/** Waits until every caller's Envoy lists the instance (`listed`) or none does (`!listed`). */
async function waitForEndpoint(
  paths: LabPaths,
  state: LabState,
  record: ProcessRecord,
  listed: boolean,
  timeoutMs: number,
): Promise<void> {
  await waitFor(async () => (await endpointListed(paths, state, record)).every((v) => v === listed), {
    timeoutMs,
    intervalMs: 100,
    what: `${record.name} to be ${listed ? 'a healthy endpoint in' : 'gone from'} every caller's Envoy (admin /clusters)`,
  });
}

/** Re-renders the service's sidecar for the instances in `workloads` and waits until Envoy took it. */
async function applySidecar(
  paths: LabPaths,
  state: LabState,
  service: ServiceName,
  workloads: Workloads,
): Promise<void> {
  const mesh = readMeshFile(paths);
  const sidecar = serviceShapes[service].sidecar;
  const record = state.processes.find((p) => p.name === sidecar);
  if (!record) throw new LabError(`the running lab has no ${sidecar}`);
  const adminPort = mesh.proxies.find((p) => p.name === sidecar)!.adminPort;
  await applyToProxies(
    mesh,
    [{ name: sidecar, adminPort, files: proxyFiles(paths, sidecar), log: record.log }],
    defaultTimeoutMs,
    workloads,
  );
  record.ports = proxyPorts(mesh, sidecar, workloads);
}

function updateScrapeTargets(paths: LabPaths, state: LabState, service: ServiceName): void {
  if (!state.processes.some((p) => p.kind === 'prometheus')) return;
  writeScrapeTargets(paths, service, workloadsOf(state)[service]?.instances ?? []);
}

/** `count` ports free now and used by no lab process (freePort may hand out one twice). */
async function freshPorts(state: LabState, count: number): Promise<number[]> {
  const taken = new Set([...Object.values(state.ports), ...state.processes.flatMap((p) => p.ports.map((x) => x.port))]);
  const picked: number[] = [];
  while (picked.length < count) {
    const port = await freePort();
    if (taken.has(port)) continue;
    taken.add(port);
    picked.push(port);
  }
  return picked;
}

export interface InstanceStatus {
  name: string;
  service: ServiceName;
  pid: number;
  running: boolean;
  /** Its /readyz answers 2xx. */
  ready: boolean;
  terminating: boolean;
  /** Every caller's Envoy lists it healthy; null for a service without membership (static endpoint). */
  inEndpoints: boolean | null;
  log: string;
  /** App ports, then its sidecar inbound listeners (`sidecar inbound-http`). */
  ports: { name: string; port: number }[];
}

/** Every instance (or those of `service`): process, readiness and whether callers' Envoys list it. */
export async function listInstances(
  options: Pick<InstanceOptions, 'root' | 'stateDir'> = {},
  service?: ServiceName,
): Promise<InstanceStatus[]> {
  const paths = labPaths(options);
  const state = readState(paths.stateDir);
  if (!state) return [];
  const records = state.processes.filter((p) => p.instance && (!service || p.instance.service === service));
  return Promise.all(
    records.map(async (record) => {
      const instance = record.instance!;
      const running = isRunning(record);
      const dynamic = state.mode === 'mesh' && (state.membership?.services.includes(instance.service) ?? false);
      const inEndpoints = dynamic
        ? (await endpointListed(paths, state, record).catch(() => [false])).every(Boolean)
        : null;
      return {
        name: record.name,
        service: instance.service,
        pid: record.pid,
        running,
        ready: running && (await readyCheck(record)),
        terminating: instance.terminating ?? false,
        inEndpoints,
        log: record.log,
        ports: [
          ...record.ports,
          ...Object.entries(instance.inboundPorts).map(([name, port]) => ({ name: `sidecar ${name}`, port })),
        ],
      };
    }),
  );
}

/**
 * Starts a further instance of `service` (a new pod): fresh ports, its own inbound listeners on the
 * service's sidecar, the same command and env as its siblings. Resolves once it is ready and every
 * caller's Envoy lists it.
 */
export async function startInstance(
  options: InstanceOptions,
  service: ServiceName,
  envChanges: EnvChanges = {},
): Promise<ProcessRecord> {
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  const paths = labPaths(options);
  const state = requireState(paths);
  requireMembership(state, service);
  const sibling = state.processes.find((p) => p.instance?.service === service);
  if (!sibling) throw new LabError(`the lab has no instance of ${service} to start a further one like`);
  const started = (state.instancesStarted?.[service] ?? 1) + 1;
  const name = `${service}-${started}`;
  const ports = await freshPorts(state, portsPerInstance(service));
  const info = instanceOnPorts(service, () => ports.shift()!);
  const workloads = workloadsOf(state);
  workloads[service]!.instances.push({ name, info });
  // The pod's sidecar listens before the app starts; callers learn of it only once it is ready.
  await applySidecar(paths, state, service, workloads);
  const record = launch(siblingSpec(paths, sibling, { name, info }, envChanges), paths.stateDir);
  state.processes.push(record);
  state.instancesStarted = { ...state.instancesStarted, [service]: started };
  writeState(state);
  updateScrapeTargets(paths, state, service);
  await waitReady(record, timeoutMs);
  await waitForEndpoint(paths, state, record, true, timeoutMs);
  return record;
}

export interface StopResult {
  name: string;
  pid: number;
  /** The preStop sleep run before SIGTERM (the pod's, from the manifests; 0 when removed). */
  preStopMs: number;
  /** From SIGTERM until the process had exited. */
  exitedAfterMs: number;
  /** It outlived the termination grace period and got SIGKILL. */
  killedAfterGrace: boolean;
}

/** Polls until the process is gone; returns how long after `since` that was seen. */
async function waitExit(record: ProcessRecord, since: number, timeoutMs: number, signal: string): Promise<number> {
  const seenAt = await waitFor(() => (isRunning(record) ? null : Date.now()), {
    timeoutMs,
    intervalMs: 50,
    what: `${record.name} (pid ${record.pid}) to exit after ${signal}`,
  });
  return seenAt - since;
}

/**
 * Stops an instance the way the kubelet stops a deleted pod's container
 * (kubernetes/kubernetes pkg/kubelet/kuberuntime/kuberuntime_container.go, killContainer): its
 * endpoint is withdrawn from callers at once (after the propagation delay) while the preStop
 * sleep runs, then SIGTERM, and SIGKILL when the termination grace period (counted from the
 * deletion, preStop included) runs out. What the process does on SIGTERM is its own
 * graceful-shutdown setting. Both times are the pod's (state.pods, from the manifests). Resolves
 * once it has exited and no caller's Envoy lists it; the instance stays in the lab, stopped, so
 * restartInstance can start it again.
 */
export async function stopInstance(
  options: InstanceOptions & {
    /** This pod's own preStop sleep and grace period (a cluster's pod spec), instead of the service's. */
    pod?: { preStopSleepMs: number; terminationGracePeriodMs: number };
  },
  name: string,
): Promise<StopResult> {
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  const paths = labPaths(options);
  const state = requireState(paths);
  const record = instanceRecord(state, name);
  requireMembership(state, record.instance.service);
  if (!isRunning(record)) throw new LabError(`${name} (pid ${record.pid}) is not running`);
  const pod = options.pod ?? state.pods?.[record.instance.service];
  const graceMs = pod?.terminationGracePeriodMs ?? 30_000;
  const preStopMs = Math.min(pod?.preStopSleepMs ?? 0, graceMs);
  record.instance.terminating = true;
  writeState(state);
  const deletedAt = Date.now();
  const withdrawn = waitForEndpoint(paths, state, record, false, timeoutMs);
  // The preStop `sleep` action is a fixed wait by definition, not a wait for a condition.
  if (preStopMs > 0) await pause(preStopMs);
  const signalledAt = Date.now();
  process.kill(record.pid, 'SIGTERM');
  // The kubelet grants at least 2 s after SIGTERM when preStop used up the grace period.
  const graceLeftMs = Math.max(2000, graceMs - (signalledAt - deletedAt));
  let killedAfterGrace = false;
  const exitedAfterMs = await waitExit(record, signalledAt, graceLeftMs, 'SIGTERM').catch(async () => {
    killedAfterGrace = true;
    process.kill(-record.pid, 'SIGKILL');
    return waitExit(record, signalledAt, timeoutMs, 'SIGKILL');
  });
  await withdrawn;
  return { name, pid: record.pid, preStopMs, exitedAfterMs, killedAfterGrace };
}

/**
 * Sets the preStop sleep of the service's pods for the instances stopped from now on, as a
 * Deployment patch would (`lifecycle.preStop` removed or restored); returns the previous value.
 */
export function setPreStopSleep(
  options: Pick<InstanceOptions, 'root' | 'stateDir'>,
  service: ServiceName,
  ms: number,
): number {
  const state = requireState(labPaths(options));
  const pod = state.pods?.[service];
  if (!pod)
    throw new LabError(`the running lab has no pod settings for ${service} (started before the manifests were read)`);
  const previous = pod.preStopSleepMs;
  pod.preStopSleepMs = ms;
  writeState(state);
  return previous;
}

/**
 * SIGKILLs an instance (a crashed container): no shutdown of any kind. Callers keep sending to it
 * until the controller notices the process is gone and the change propagates. Resolves once it
 * has exited and no caller's Envoy lists it; restartInstance starts it again.
 */
export async function killInstance(options: InstanceOptions, name: string): Promise<StopResult> {
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  const paths = labPaths(options);
  const state = requireState(paths);
  const record = instanceRecord(state, name);
  requireMembership(state, record.instance.service);
  const signalledAt = Date.now();
  // SIGKILL goes to the group too, so nothing the instance forked (tsx's esbuild) outlives it.
  signalLabProcess(options, name, 'SIGKILL');
  const exitedAfterMs = await waitExit(record, signalledAt, timeoutMs, 'SIGKILL');
  await waitForEndpoint(paths, state, record, false, timeoutMs);
  return { name, pid: record.pid, preStopMs: 0, exitedAfterMs, killedAfterGrace: false };
}

/**
 * Starts a stopped or killed instance again on its own ports (a container restart in the same
 * pod); resolves once it is ready and every caller's Envoy lists it.
 */
export async function restartInstance(
  options: InstanceOptions,
  name: string,
  envChanges: EnvChanges = {},
): Promise<ProcessRecord> {
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  const paths = labPaths(options);
  const state = requireState(paths);
  requireMembership(state, instanceRecord(state, name).instance.service);
  const record = await restartLabProcess(options, name, timeoutMs, envChanges);
  await waitForEndpoint(paths, state, record, true, timeoutMs);
  return record;
}

/**
 * Stops the instance (stopInstance) and removes it from the lab: its sidecar listeners, its scrape
 * target, its place in state. What a rolling restart does to each old pod.
 */
export async function deleteInstance(options: InstanceOptions, name: string): Promise<StopResult | null> {
  const paths = labPaths(options);
  const before = requireState(paths);
  const service = instanceRecord(before, name).instance.service;
  if (before.processes.filter((p) => p.instance?.service === service).length === 1) {
    throw new LabError(`${name} is the last instance of ${service}; start another before deleting it`);
  }
  const stopped = isRunning(instanceRecord(before, name)) ? await stopInstance(options, name) : null;
  const state = requireState(paths);
  state.processes.splice(state.processes.indexOf(instanceRecord(state, name)), 1);
  await applySidecar(paths, state, service, workloadsOf(state));
  writeState(state);
  updateScrapeTargets(paths, state, service);
  return stopped;
}

/**
 * Changes some of one instance's faults (admin `GET` then `PUT /faults`, which replaces the whole
 * document): keys set to `undefined` are cleared, others kept. E.g. `{ gracefulShutdown: false }`
 * on the instances a rollout will stop. Returns the document now in force.
 */
export async function patchInstanceFaults(
  options: Pick<InstanceOptions, 'root' | 'stateDir'>,
  name: string,
  patch: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const record = instanceRecord(requireState(labPaths(options)), name);
  // Apps inherit the environment of `lab up`, so a token set there (not through appEnv) applies too.
  const token = record.env?.ADMIN_TOKEN ?? process.env.ADMIN_TOKEN;
  return patchFaults(`http://127.0.0.1:${record.instance.appPorts.admin}`, patch, { token });
}

/** Sets or clears the instance's `unready` fault and waits until callers' Envoys agree. */
export async function setInstanceReady(options: InstanceOptions, name: string, ready: boolean): Promise<void> {
  const paths = labPaths(options);
  const state = requireState(paths);
  const record = instanceRecord(state, name);
  requireMembership(state, record.instance.service);
  await patchInstanceFaults(options, name, { unready: ready ? undefined : true });
  await waitForEndpoint(paths, state, record, ready, options.timeoutMs ?? defaultTimeoutMs);
}

export interface RollingRestartStep {
  started: string;
  stopped: string;
  stop: StopResult | null;
}

/**
 * A Deployment's rolling update with maxSurge 1 and maxUnavailable 0 (what Kubernetes' 25 %
 * defaults round to for two replicas): for each instance, start a new one, wait until it is
 * ready and in every caller's endpoints, then delete the old one.
 */
export async function rollingRestart(
  options: InstanceOptions & { onStep?: (step: RollingRestartStep) => void },
  service: ServiceName,
): Promise<RollingRestartStep[]> {
  const paths = labPaths(options);
  const state = requireState(paths);
  requireMembership(state, service);
  const old = state.processes.filter((p) => p.instance?.service === service && isRunning(p)).map((p) => p.name);
  const steps: RollingRestartStep[] = [];
  for (const name of old) {
    const fresh = await startInstance(options, service);
    const step = { started: fresh.name, stopped: name, stop: await deleteInstance(options, name) };
    options.onStep?.(step);
    steps.push(step);
  }
  return steps;
}

/** Waits until every instance of the services with membership is listed by every caller's Envoy. */
export async function waitForMembers(paths: LabPaths, state: LabState, timeoutMs: number): Promise<void> {
  for (const service of serviceNames.filter((s) => state.membership?.services.includes(s))) {
    for (const record of state.processes.filter((p) => p.instance?.service === service)) {
      await waitForEndpoint(paths, state, record, true, timeoutMs);
    }
  }
}
