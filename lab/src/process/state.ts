import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Workloads } from '../mesh/endpoints.js';
import type { LabPorts } from '../ports.js';
import type { PodBehaviour, ProbeTiming } from '../workloads/manifests.js';
import type { InstanceInfo, ServiceName } from '../workloads/services.js';

export type ProcessKind = 'app' | 'envoy' | 'redis' | 'prometheus' | 'trace-sink' | 'endpoint-controller';

export interface ProcessRecord {
  name: string;
  kind: ProcessKind;
  pid: number;
  /** /proc/<pid>/stat start time, so a recycled pid is never mistaken for ours. */
  startTicks: string | null;
  command: string[];
  log: string;
  ports: { name: string; port: number }[];
  /** What a person opens or calls (traffic URL, UI). */
  url: string | null;
  /** Where readiness is checked. */
  readyUrl: string | null;
  /** Env the lab gave it (apps: so a further instance starts like its siblings). */
  env?: Record<string, string>;
  /** Apps: which service this instance belongs to and its ports. */
  instance?: InstanceInfo;
}

/**
 * Readiness-driven endpoint membership (membership/controller.ts), for the services started with
 * replicas: each service's readiness probe as the kubelet runs it (from the manifests) and the
 * delay from a change to callers' Envoys (Kubernetes' endpoints controller plus istiod's debounce
 * and push).
 */
export interface MembershipSettings {
  services: ServiceName[];
  readiness: Partial<Record<ServiceName, ProbeTiming>>;
  propagationDelayMs: number;
}

export interface LabState {
  version: 1;
  /** Absolute state directory; also put in each child's env to find orphans after a crash. */
  labId: string;
  startedAt: string;
  mode: 'mesh' | 'direct';
  /** `starting` until every process is ready; a crashed `up` leaves it so, and `down` still cleans up. */
  phase: 'starting' | 'up';
  ports: LabPorts;
  processes: ProcessRecord[];
  /** One line per optional part that was not started, saying how to get it. */
  missing: string[];
  endpoints: LabEndpoints;
  /** Present when some service runs with readiness-driven membership (`replicas`). */
  membership?: MembershipSettings;
  /** Labels on every app series Prometheus scrapes (LabOptions.scrapeLabels); kept for a restarted Prometheus. */
  scrapeLabels?: Record<string, string>;
  /**
   * How each service's pods behave, from the manifests (workloads/manifests.ts): what the lab
   * runs, with any lab option that departs from them (fewer replicas, a faster probe) applied.
   * `preStopSleepMs` is changed while an experiment removes the preStop sleep.
   */
  pods?: Record<ServiceName, PodBehaviour>;
  /**
   * Where `pods` came from, the replicas the manifests ask for (the lab may run fewer), and every
   * way the lab departs from the manifests, one line each (status and experiment reports show them).
   */
  manifests?: { source: string; replicas: Record<ServiceName, number>; departures: string[] };
  /** Instances started so far per service, so a new instance never reuses a name (like pod names). */
  instancesStarted?: Partial<Record<ServiceName, number>>;
}

/** Where things are, for people (status table) and for the experiments runner. */
export interface LabEndpoints {
  /** Public entry: the ingress in mesh mode, web-api itself in direct mode. */
  publicUrl: string;
  webApiAdminUrl: string;
  recipeApiAdminUrl: string;
  prometheusUrl: string | null;
  traceSinkUrl: string;
  spansFile: string;
  /** Access log per Envoy (Istio text format), empty in direct mode. */
  accessLogs: Record<string, string>;
  /** Admin URL per Envoy (stats at /stats/prometheus). */
  envoyAdminUrls: Record<string, string>;
  /** The applied MeshDescription (JSON), mesh mode only. */
  meshFile: string | null;
}

export const labIdEnv = 'RECIPE_MESH_LAB_ID';

export function statePath(stateDir: string): string {
  return path.join(stateDir, 'state.json');
}

export function readState(stateDir: string): LabState | null {
  try {
    return JSON.parse(readFileSync(statePath(stateDir), 'utf8')) as LabState;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(
      `${statePath(stateDir)} is unreadable (${String(error)}); remove it after checking no lab process runs`,
    );
  }
}

/** Written after every spawn (temp file + rename), so a crash mid-`up` still leaves every pid on disk. */
export function writeState(state: LabState): void {
  mkdirSync(state.labId, { recursive: true });
  const file = statePath(state.labId);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, file);
}

export function removeState(stateDir: string): void {
  rmSync(statePath(stateDir), { force: true });
}

/** The lab's instances per service, from its state (what the Envoy configs are rendered from). */
export function workloadsOf(state: LabState): Workloads {
  const out: Workloads = {};
  for (const record of state.processes) {
    if (!record.instance) continue;
    const service = record.instance.service;
    const workload = (out[service] ??= {
      dynamic: state.membership?.services.includes(service) ?? false,
      instances: [],
    });
    workload.instances.push({ name: record.name, info: record.instance });
  }
  return out;
}
