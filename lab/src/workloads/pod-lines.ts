import type { LabState } from '../process/state.js';
import type { ProbeTiming } from './manifests.js';
import type { ServiceName } from './services.js';

/** How `status` shows what the lab takes from the manifests (workloads/manifests.ts). */

const seconds = (ms: number) => `${ms / 1000} s`;

function probeLine(kind: string, probe: ProbeTiming | null): string {
  if (!probe) return `${kind}: none`;
  return `${kind} ${probe.path} every ${seconds(probe.periodMs)}, timeout ${seconds(probe.timeoutMs)}, failureThreshold ${probe.failureThreshold}, successThreshold ${probe.successThreshold}${probe.initialDelayMs ? `, initialDelay ${seconds(probe.initialDelayMs)}` : ''}`;
}

/** Per service: instances against the manifests' replicas, and the pod settings the lab runs. */
export function podLines(state: LabState): string[] {
  if (!state.pods) return [];
  const lines = [`pod settings from ${state.manifests?.source ?? 'the manifests'}:`];
  for (const [service, pod] of Object.entries(state.pods)) {
    const wanted = state.manifests?.replicas[service as ServiceName];
    const fewer = wanted !== undefined && pod.replicas < wanted ? ` — FEWER THAN THE MANIFESTS' ${wanted}` : '';
    const limit = pod.memoryLimitBytes === null ? 'none' : `${pod.memoryLimitBytes / 2 ** 20} MiB`;
    lines.push(
      `  ${service}: ${pod.replicas} instance${pod.replicas === 1 ? '' : 's'}${fewer}`,
      `    ${probeLine('readiness', state.membership?.readiness[service as ServiceName] ?? pod.readiness)}`,
      `    ${probeLine('liveness', pod.liveness)} (shown, not run by the lab)`,
      `    preStop sleep ${seconds(pod.preStopSleepMs)}, terminationGracePeriod ${seconds(pod.terminationGracePeriodMs)}, memory limit ${limit} (not enforced by the lab)`,
      `    NODE_OPTIONS ${pod.env.NODE_OPTIONS ?? '(none)'}`,
    );
  }
  return lines;
}
