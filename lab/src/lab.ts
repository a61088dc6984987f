import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { findBinary, installHint } from '@recipe-mesh/measure/binaries';
import { freePort, portIsOpen } from '@recipe-mesh/measure/net';
import { launchSpecs, type AppCommand } from './components/launch-specs.js';
import { LabError } from './errors.js';
import { waitForMembers } from './instances.js';
import { applyToProxies, type ApplyResult, type ProxyTarget } from './mesh/apply.js';
import { dynamicServices, proxyPorts, type WorkloadInstance, type Workloads } from './mesh/endpoints.js';
import { defaultPropagationDelayMs, fallbackReadiness } from './membership/controller.js';
import { planPods } from './workloads/pods-plan.js';
import { defaultIstioVersion, defaultMesh, type IstioVersion, type MeshDescription } from './mesh/description.js';
import { labPaths, proxyFiles, readMeshFile, type LabPaths } from './paths.js';
import { assertPortsFree, defaultPorts, portsFromEnv, type LabPorts } from './ports.js';
import {
  findTaggedProcesses,
  isRunning,
  launch,
  processGroup,
  processStartTicks,
  stopAll,
} from './process/processes.js';
import { readyCheck, waitReady } from './process/readiness.js';
import {
  readState,
  removeState,
  workloadsOf,
  writeState,
  type LabEndpoints,
  type LabState,
  type MembershipSettings,
  type ProcessRecord,
} from './process/state.js';
import {
  firstInstance,
  instanceOnPorts,
  portsPerInstance,
  serviceNames,
  type ServiceName,
} from './workloads/services.js';

export type { AppCommand } from './components/launch-specs.js';

export interface LabOptions {
  /** Repository root; defaults to the one holding this file. */
  root?: string;
  /** State, logs, configs, traces; defaults to $LAB_STATE_DIR, else `<root>/.lab`. */
  stateDir?: string;
  /** Port overrides (tests pass free ports); LAB_PORT_* env variables apply first. */
  ports?: Partial<LabPorts>;
  istioVersion?: IstioVersion;
  /** The mesh to start with; defaults to defaultMesh(ports, istioVersion). */
  mesh?: MeshDescription;
  /** Set a part to false to leave it out even when installed (e.g. to test direct mode). */
  use?: { envoy?: boolean; redis?: boolean; prometheus?: boolean };
  /** Replace how an app starts (tests use stand-in servers); env stays the lab's. */
  apps?: { webApi?: AppCommand; recipeApi?: AppCommand };
  /** Extra env for both apps (e.g. KEEP_ALIVE_TIMEOUT_MS, FAULTS), after the lab's own. */
  appEnv?: Record<string, string>;
  /**
   * Instances per service, like a Deployment's replicas; by default the manifests' (k8s/base:
   * two each). With the mesh every service runs with readiness-driven membership: callers'
   * Envoys reach its ready instances through EDS, published by the endpoint controller (docs/lab.md,
   * "Several instances of a service"), and lab/instances.ts can stop, kill, restart, unready and
   * roll them. Fewer than the manifests (for speed) is allowed and `status` and reports say so.
   */
  replicas?: Partial<Record<ServiceName, number>>;
  /**
   * Membership timing. The readiness probe is the manifests' (workloads/manifests.ts);
   * `probePeriodMs` replaces its period for tests that need quick drills, and status says so.
   * Changes reach callers' Envoys `propagationDelayMs` (500) after they are seen.
   */
  membership?: { probePeriodMs?: number; propagationDelayMs?: number };
  scrapeIntervalSeconds?: number;
  /**
   * Labels on every series of the apps' scrape jobs, as a cluster's Prometheus adds them from
   * service discovery (k8s/components/observability/prometheus-configmap.yaml: `namespace`): a
   * lab that is a cluster's data plane answers the cluster's PromQL (k8s/kube/cluster.ts).
   */
  scrapeLabels?: Record<string, string>;
  readyTimeoutMs?: number;
  /** Where progress lines go (the CLI prints them; tests silence them). */
  log?: (line: string) => void;
}

export { LabError } from './errors.js';
export { labPaths, proxyFiles, type LabPaths } from './paths.js';

function describeProcesses(records: ProcessRecord[]): string {
  return records.map((r) => `${r.name} (pid ${r.pid})`).join(', ');
}

function refuseIfUp(paths: LabPaths): void {
  const state = readState(paths.stateDir);
  const running = state?.processes.filter(isRunning) ?? [];
  if (running.length > 0) {
    throw new LabError(
      `the lab is already up (started ${state!.startedAt}, ${state!.phase}): ${describeProcesses(running)}. ` +
        'Run `npm run lab -- down` (or `make down`) first.',
    );
  }
  const orphans = findTaggedProcesses(paths.stateDir);
  if (orphans.length > 0) {
    throw new LabError(
      `lab processes from an earlier run are still alive (pids ${orphans.join(', ')}); run \`npm run lab -- down\` first.`,
    );
  }
}

/** `web-api` / `recipe-api gRPC` / `recipe-api-2 admin`: how a taken port is named. */
function appPortLabel(instance: string, port: string): string {
  return port === 'http' ? instance : `${instance} ${port === 'grpc' ? 'gRPC' : port}`;
}

/**
 * The instances to start: the first of each service on the lab's ports, the further ones (and
 * their sidecar inbound listeners) on free ports. Services given replicas run with membership.
 */
async function initialWorkloads(
  ports: LabPorts,
  replicas: Partial<Record<ServiceName, number>>,
  mesh: boolean,
): Promise<Workloads> {
  const taken = new Set<number>(Object.values(ports));
  const take = async () => {
    for (;;) {
      const port = await freePort();
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
  };
  const workloads: Workloads = {};
  for (const service of serviceNames) {
    const count = replicas[service] ?? 1;
    if (!Number.isInteger(count) || count < 1)
      throw new LabError(`replicas for ${service} must be 1 or more, not ${count}`);
    if (count > 1 && !mesh)
      throw new LabError(`replicas for ${service} need the mesh (envoy): without it the app is called directly`);
    const instances: WorkloadInstance[] = [{ name: service, info: firstInstance(service, ports) }];
    for (let i = 2; i <= count; i++) {
      const free: number[] = [];
      for (let n = 0; n < portsPerInstance(service); n++) free.push(await take());
      instances.push({ name: `${service}-${i}`, info: instanceOnPorts(service, () => free.shift()!) });
    }
    workloads[service] = { dynamic: mesh, instances };
  }
  return workloads;
}

function replicaCounts(workloads: Workloads): Partial<Record<ServiceName, number>> {
  return Object.fromEntries(serviceNames.map((s) => [s, workloads[s]?.instances.length ?? 0]));
}

/**
 * Starts the whole platform: trace sink, Redis, both services, the Envoy sidecars and ingress,
 * Prometheus — each optional part only when its binary is found — waits for readiness and
 * returns the state (also in `<stateDir>/state.json`). Processes keep running after the caller
 * exits; stopLab stops them. Refuses when a lab from this state dir is up.
 */
export async function startLab(options: LabOptions = {}): Promise<LabState> {
  const log = options.log ?? (() => undefined);
  const paths = labPaths(options);
  refuseIfUp(paths);
  if (readState(paths.stateDir)) {
    log('removing state of an earlier lab whose processes are gone (crashed or killed)');
    removeState(paths.stateDir);
  }

  const ports: LabPorts = { ...defaultPorts, ...portsFromEnv(), ...options.ports };
  const use = { envoy: true, redis: true, prometheus: true, ...options.use };
  const binaries = {
    envoy: use.envoy ? findBinary('envoy') : null,
    redis: use.redis ? findBinary('redis-server') : null,
    prometheus: use.prometheus ? findBinary('prometheus') : null,
  };
  const missing: string[] = [];
  const note = (part: keyof typeof binaries, binary: string, without: string) => {
    if (binaries[part]) return;
    missing.push(
      use[part]
        ? `${binary} not found: ${without} (${installHint(binary)})`
        : `${binary} left out by option: ${without}`,
    );
  };
  note('envoy', 'envoy', 'no ingress or sidecars, services called directly');
  note('redis', 'redis-server', 'recipe-api runs without its cache (REDIS_URL=none)');
  note('prometheus', 'prometheus', 'no metrics store; scrape the admin ports directly');
  const mode: LabState['mode'] = binaries.envoy ? 'mesh' : 'direct';
  if (!binaries.envoy && !binaries.redis && !binaries.prometheus) {
    log(
      'envoy, redis-server and prometheus are not available: running web-api and recipe-api directly (no cache, no mesh); `make lab-deps` installs them.',
    );
  }

  const mesh = options.mesh ?? defaultMesh(ports, options.istioVersion ?? defaultIstioVersion);
  const plan = planPods(paths.root, {
    replicas: options.replicas ?? {},
    mesh: mode === 'mesh',
    probePeriodMs: options.membership?.probePeriodMs,
  });
  const { pods, replicas, departures } = plan;
  for (const line of departures) log(`NOTICE: ${line}`);
  missing.push(...departures);
  const workloads = await initialWorkloads(ports, replicas, mode === 'mesh');
  const membership: MembershipSettings | undefined =
    mode === 'mesh' && dynamicServices(workloads).length > 0
      ? {
          services: dynamicServices(workloads),
          readiness: Object.fromEntries(
            dynamicServices(workloads).map((s) => [s, pods[s].readiness ?? fallbackReadiness]),
          ),
          propagationDelayMs: options.membership?.propagationDelayMs ?? defaultPropagationDelayMs,
        }
      : undefined;

  const wanted: { name: string; port: number }[] = [{ name: 'trace sink', port: ports.traceSink }];
  for (const service of serviceNames) {
    for (const instance of workloads[service]!.instances) {
      const appPorts = Object.entries(instance.info.appPorts);
      for (const [name, port] of appPorts) wanted.push({ name: appPortLabel(instance.name, name), port });
    }
  }
  if (binaries.redis) wanted.push({ name: 'redis', port: ports.redis });
  if (binaries.prometheus) wanted.push({ name: 'prometheus', port: ports.prometheus });
  if (binaries.envoy) {
    for (const proxy of mesh.proxies) {
      for (const p of proxyPorts(mesh, proxy.name, workloads))
        wanted.push({ name: `${proxy.name} ${p.name}`, port: p.port });
    }
  }
  await assertPortsFree(wanted);

  // A fresh run: logs, configs and traces of the previous one are replaced.
  for (const dir of [paths.logs, paths.envoy, paths.traces, paths.prometheus, paths.redis]) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
  }

  const url = (port: number) => `http://127.0.0.1:${port}`;
  const accessLogs: Record<string, string> = {};
  const envoyAdminUrls: Record<string, string> = {};
  if (binaries.envoy) {
    for (const proxy of mesh.proxies) {
      accessLogs[proxy.name] = proxyFiles(paths, proxy.name).accessLog;
      envoyAdminUrls[proxy.name] = url(proxy.adminPort);
    }
  }
  const endpoints: LabEndpoints = {
    publicUrl: binaries.envoy ? url(ports.ingress) : url(ports.webApi),
    webApiAdminUrl: url(ports.webApiAdmin),
    recipeApiAdminUrl: url(ports.recipeApiAdmin),
    prometheusUrl: binaries.prometheus ? url(ports.prometheus) : null,
    traceSinkUrl: url(ports.traceSink),
    spansFile: paths.spansFile,
    accessLogs,
    envoyAdminUrls,
    meshFile: binaries.envoy ? paths.meshFile : null,
  };
  const state: LabState = {
    version: 1,
    labId: paths.stateDir,
    startedAt: new Date().toISOString(),
    mode,
    phase: 'starting',
    ports,
    processes: [],
    missing,
    endpoints,
    ...(membership ? { membership, instancesStarted: replicaCounts(workloads) } : {}),
    pods,
    manifests: { source: plan.source, departures, replicas: plan.manifestReplicas },
    ...(options.scrapeLabels ? { scrapeLabels: options.scrapeLabels } : {}),
  };
  writeState(state);

  const specs = launchSpecs({
    paths,
    ports,
    mesh,
    binaries,
    log,
    apps: options.apps,
    appEnv: options.appEnv,
    workloads,
    membership,
    pods,
    scrapeIntervalSeconds: options.scrapeIntervalSeconds,
    scrapeLabels: options.scrapeLabels,
  });

  try {
    for (const spec of specs) {
      state.processes.push(launch(spec, paths.stateDir));
      writeState(state);
    }
    const timeoutMs = options.readyTimeoutMs ?? 90_000;
    await Promise.all(state.processes.map((record) => waitReady(record, timeoutMs)));
    // Ready apps are not yet reachable through the mesh until the controller published them.
    if (membership) await waitForMembers(paths, state, timeoutMs);
  } catch (error) {
    log(`startup failed, stopping what was started: ${String((error as Error).message).split('\n')[0]}`);
    await stopAll(state.processes, 5_000);
    removeState(paths.stateDir);
    throw error;
  }
  state.phase = 'up';
  writeState(state);
  return state;
}

export interface StopReport {
  stopped: string[];
  /** Names that ignored SIGTERM within the grace period and were killed. */
  killed: string[];
  /** Ports of the lab still bound after everything stopped (should be empty). */
  portsStillBound: { name: string; port: number }[];
  wasUp: boolean;
}

/**
 * Stops every lab process: those in state.json and any other process tagged with this lab's
 * id (so a crashed `up` or a lost state file leaves nothing behind), then checks the ports.
 */
export async function stopLab(
  options: Pick<LabOptions, 'root' | 'stateDir'> & { graceMs?: number } = {},
): Promise<StopReport> {
  const paths = labPaths(options);
  const state = readState(paths.stateDir);
  const records: Pick<ProcessRecord, 'name' | 'pid' | 'startTicks'>[] = [...(state?.processes ?? [])];
  // Children of recorded processes (e.g. tsx's esbuild service) share their group and stop with it.
  const groups = new Set(records.map((r) => r.pid));
  for (const pid of findTaggedProcesses(paths.stateDir)) {
    if (records.some((r) => r.pid === pid) || groups.has(processGroup(pid) ?? -1)) continue;
    records.push({ name: `untracked lab process ${pid}`, pid, startTicks: processStartTicks(pid) });
  }
  const running = records.filter(isRunning);
  // Stop in dependency order: apps first (they drain through the still-running Envoys, flush
  // spans to the still-running sink and close Redis), then the Envoys, then everything else.
  // Stopped all at once, an app's final span export would wait out its OTLP timeout.
  const kindOf = (pid: number) => state?.processes.find((p) => p.pid === pid)?.kind;
  const stages = [
    running.filter((r) => kindOf(r.pid) === 'app'),
    running.filter((r) => kindOf(r.pid) === 'envoy'),
    running.filter((r) => kindOf(r.pid) !== 'app' && kindOf(r.pid) !== 'envoy'),
  ];
  const killed: string[] = [];
  for (const stage of stages) killed.push(...(await stopAll(stage, options.graceMs ?? 15_000)));
  const ports =
    state?.processes.flatMap((p) => p.ports.map((port) => ({ name: `${p.name} ${port.name}`, port: port.port }))) ?? [];
  const deadline = Date.now() + 3_000;
  let bound = ports;
  do {
    const open = await Promise.all(ports.map((p) => portIsOpen(p.port)));
    bound = ports.filter((_, i) => open[i]);
    if (bound.length === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  } while (Date.now() < deadline);
  removeState(paths.stateDir);
  return { stopped: running.map((r) => r.name), killed, portsStillBound: bound, wasUp: running.length > 0 };
}

export interface ProcessStatus {
  name: string;
  pid: number;
  running: boolean;
  ready: boolean;
  url: string | null;
  log: string;
  ports: { name: string; port: number }[];
}

export interface StatusReport {
  up: boolean;
  state: LabState | null;
  processes: ProcessStatus[];
}

export async function labStatus(options: Pick<LabOptions, 'root' | 'stateDir'> = {}): Promise<StatusReport> {
  const state = readState(labPaths(options).stateDir);
  if (!state) return { up: false, state: null, processes: [] };
  const processes = await Promise.all(
    state.processes.map(async (p) => {
      const running = isRunning(p);
      return {
        name: p.name,
        pid: p.pid,
        running,
        ready: running && (await readyCheck(p)),
        url: p.url,
        log: p.log,
        ports: p.ports,
      };
    }),
  );
  return { up: processes.some((p) => p.running), state, processes };
}

/** The MeshDescription the running lab's Envoys were last given. */
export function currentMesh(options: Pick<LabOptions, 'root' | 'stateDir'> = {}): MeshDescription {
  return readMeshFile(labPaths(options));
}

/**
 * Applies a changed mesh to the running Envoys by xDS hot reload (see mesh/apply.ts for why
 * not a restart) and records it as the current mesh. Ports must stay those of `lab up`.
 */
export async function applyMeshConfig(
  mesh: MeshDescription,
  options: Pick<LabOptions, 'root' | 'stateDir'> = {},
): Promise<ApplyResult> {
  const paths = labPaths(options);
  const state = readState(paths.stateDir);
  if (state?.mode !== 'mesh')
    throw new LabError('applyMeshConfig needs a lab up in mesh mode (npm run lab -- up with envoy installed)');
  const targets: ProxyTarget[] = mesh.proxies.map((proxy) => {
    const record = state.processes.find((p) => p.name === proxy.name);
    if (!record) throw new LabError(`the running lab has no ${proxy.name}`);
    const admin = record.ports.find((p) => p.name === 'admin')!.port;
    if (admin !== proxy.adminPort)
      throw new LabError(
        `${proxy.name}: admin port ${proxy.adminPort} differs from the running ${admin}; ports cannot change while up`,
      );
    return { name: proxy.name, adminPort: admin, files: proxyFiles(paths, proxy.name), log: record.log };
  });
  const result = await applyToProxies(mesh, targets, undefined, workloadsOf(state));
  writeFileSync(paths.meshFile, `${JSON.stringify(mesh, null, 2)}\n`);
  return result;
}

export type { LabState, LabEndpoints, ProcessRecord } from './process/state.js';
export type { MeshDescription } from './mesh/description.js';
