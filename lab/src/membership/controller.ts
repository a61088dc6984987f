import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pause } from '@recipe-mesh/measure/net';
import type { MeshDescription, ProxyName } from '../mesh/description.js';
import { edsFileName, edsTargets, loadAssignment } from '../mesh/endpoints.js';
import { writeEdsFiles } from '../mesh/xds-files.js';
import { labPaths, proxyFiles } from '../paths.js';
import { isRunning } from '../process/processes.js';
import { readState, type LabState, type ProcessRecord } from '../process/state.js';
import type { ProbeTiming } from '../workloads/manifests.js';
import { afterProbe, httpProbe, initialProbeState, type ProbeState } from './probe.js';

/**
 * The lab's endpoint controller: what kubelet's readiness probes, the Kubernetes endpoints
 * controller and istiod do together for a Service's pods. It probes each instance with its
 * service's readiness probe from the manifests (path, period, timeout, failure and success
 * thresholds: probe.ts), drops an instance at once when it is terminating or its process is gone
 * (a deleted pod's endpoint is marked terminating, kubernetes.io/docs/concepts/services-networking/
 * endpoint-slices/#conditions), and after the propagation delay publishes the ready instances to
 * every caller's EDS cluster through file-based xDS. Istio's sidecars learn endpoints the same
 * way, from EndpointSlices, and Istio configures no Envoy active health checking
 * (istio/istio.io#3933: "We don't support envoy active health check"; still open as
 * istio/istio#10537), so readiness decides membership and Envoy's own view follows it.
 */

/**
 * Readiness when a service's manifests give no readiness probe: the kubelet then counts a
 * running container as ready; the lab still checks its /readyz each second so that an instance
 * that is not serving yet is not published.
 */
export const fallbackReadiness: ProbeTiming = {
  path: '/readyz',
  periodMs: 1000,
  timeoutMs: 1000,
  failureThreshold: 1,
  successThreshold: 1,
  initialDelayMs: 0,
};

/** How long an endpoint change takes to reach callers' Envoys (endpoints controller + istiod push). */
export const defaultPropagationDelayMs = 500;

/** How often the controller reads state.json for new, terminating or exited instances. */
const watchIntervalMs = 100;

interface Probe extends ProbeState {
  /** pid + start time: a restarted instance is probed afresh. */
  processKey: string;
}

interface Snapshot {
  at: number;
  /** Instance names that are members, sorted. */
  members: string[];
}

/**
 * When the lab is a cluster's data plane (k8s/kube/data-plane.ts), membership is the cluster's:
 * that controller writes here the instances whose pods the EndpointSlices list as ready, and this
 * controller publishes exactly those (after the propagation delay, istiod's debounce and push)
 * instead of its own probes' view. Absent, the lab decides by its own probes.
 */
export function clusterMembersFile(stateDir: string): string {
  return path.join(stateDir, 'cluster-endpoints.json');
}

function clusterMembers(stateDir: string): string[] | null {
  const file = clusterMembersFile(stateDir);
  if (!existsSync(file)) return null;
  return (JSON.parse(readFileSync(file, 'utf8')) as { members: string[] }).members;
}

/** The instances of services with membership, from the lab's state. */
export function memberCandidates(state: LabState): ProcessRecord[] {
  const services = state.membership?.services ?? [];
  return state.processes.filter((p) => p.instance && services.includes(p.instance.service));
}

/**
 * Per calling proxy, the EDS files (by name) listing `members`' inbound ports for each of its
 * clusters of services with membership.
 */
export function assignmentsFor(
  mesh: MeshDescription,
  state: LabState,
  members: string[],
): Map<ProxyName, Map<string, Record<string, unknown>>> {
  const out = new Map<ProxyName, Map<string, Record<string, unknown>>>();
  for (const target of edsTargets(mesh, state.membership?.services ?? [])) {
    const ports = state.processes
      .filter((p) => p.instance?.service === target.service && members.includes(p.name))
      .map((p) => p.instance!.inboundPorts[target.inboundListener]!);
    const files = out.get(target.proxy) ?? new Map<string, Record<string, unknown>>();
    files.set(edsFileName(target.listener), loadAssignment(target.cluster, ports));
    out.set(target.proxy, files);
  }
  return out;
}

export interface ControllerOptions {
  stateDir: string;
  log: (line: string) => void;
  /** Stops the loop (tests); the process form runs until the lab's state is gone or SIGTERM. */
  signal?: AbortSignal;
}

/** Runs until the lab's state file disappears (`down`) or `signal` aborts. */
export async function runEndpointController(options: ControllerOptions): Promise<void> {
  const paths = labPaths({ stateDir: options.stateDir });
  const probes = new Map<string, Probe>();
  const snapshots: Snapshot[] = [];
  let observed: string | null = null;
  let published: string | null = null;
  const inFlight = new Set<string>();
  /** The observation to publish (kept until written, so a failed write is retried). */
  let due: Snapshot | undefined;

  const tick = (): boolean => {
    const state = readState(paths.stateDir);
    if (!state) return false;
    const settings = state.membership;
    if (!settings) return false;
    const now = Date.now();
    const candidates = memberCandidates(state);
    for (const record of candidates) {
      const processKey = `${record.pid}:${record.startTicks}`;
      const live = isRunning(record) && !record.instance!.terminating;
      const timing = settings.readiness[record.instance!.service] ?? fallbackReadiness;
      let probe = probes.get(record.name);
      if (!probe || probe.processKey !== processKey) {
        probe = { processKey, ...initialProbeState(now, timing) };
        probes.set(record.name, probe);
      }
      if (!live) {
        probes.set(record.name, { ...probe, ready: false });
        continue;
      }
      if (now < probe.dueAt || inFlight.has(record.name)) continue;
      inFlight.add(record.name);
      const startedAt = now;
      const url = `http://127.0.0.1:${record.instance!.appPorts.admin}${timing.path}`;
      // Probes run beside the loop so a slow probe never delays noticing a terminating instance.
      void httpProbe(url, timing.timeoutMs).then((passed) => {
        inFlight.delete(record.name);
        const current = probes.get(record.name);
        if (current?.processKey === processKey)
          probes.set(record.name, { processKey, ...afterProbe(current, passed, startedAt, timing) });
      });
    }
    for (const name of probes.keys()) if (!candidates.some((c) => c.name === name)) probes.delete(name);

    const fromCluster = clusterMembers(paths.stateDir);
    const members = candidates
      .filter((c) =>
        fromCluster
          ? fromCluster.includes(c.name)
          : probes.get(c.name)?.ready && isRunning(c) && !c.instance!.terminating,
      )
      .map((c) => c.name)
      .sort();
    const key = members.join(',');
    if (key !== observed) {
      observed = key;
      snapshots.push({ at: now, members });
    }
    // Publish the newest observation at least one propagation delay old.
    while (snapshots.length > 0 && snapshots[0]!.at <= now - settings.propagationDelayMs) due = snapshots.shift();
    if (due && due.members.join(',') !== published) {
      const mesh = JSON.parse(readFileSync(paths.meshFile, 'utf8')) as MeshDescription;
      for (const [proxy, files] of assignmentsFor(mesh, state, due.members)) {
        writeEdsFiles(proxyFiles(paths, proxy), files);
      }
      published = due.members.join(',');
      options.log(
        `${new Date().toISOString()} endpoints: [${due.members.join(', ')}] (observed ${now - due.at} ms ago)`,
      );
    }
    return true;
  };

  while (!options.signal?.aborted) {
    try {
      if (!tick()) return;
    } catch (error) {
      // A half-applied change (e.g. mesh.json being replaced) must not stop membership for good.
      options.log(`${new Date().toISOString()} error: ${String(error)}`);
    }
    await pause(watchIntervalMs);
  }
}
