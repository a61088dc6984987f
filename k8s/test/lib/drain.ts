import type { Contracts } from './contracts.js';
import type { MeshInstall } from './istio-install.js';
import { describe, isServiceImage, workloads, type K8sObject } from './objects.js';

/**
 * Shutdown budget of each service pod (the relation documented in k8s/base/deployment-*.yaml):
 *
 *   preStop sleep + SHUTDOWN_DRAIN_DELAY_MS + SHUTDOWN_TIMEOUT_MS + headroom <= terminationGracePeriodSeconds
 *
 * The kubelet counts the grace period from the start of preStop and kills whatever still runs at
 * its end. The preStop sleep keeps the pod serving while the endpoint removal reaches every
 * sidecar; the service's drain delay then serves with readiness failed; the timeout bounds the
 * in-flight requests; the headroom covers closing Redis and flushing telemetry (services/platform
 * shutdown steps). The sidecar must outlive all of it: native sidecars (ENABLE_NATIVE_SIDECARS)
 * stop only after the app container has exited.
 */
export const shutdownHeadroomSeconds = 5;

export interface ShutdownBudget {
  preStopSeconds: number;
  drainDelayMs: number;
  timeoutMs: number;
  gracePeriodSeconds: number;
}

export function requiredGraceSeconds(b: Omit<ShutdownBudget, 'gracePeriodSeconds'>): number {
  return b.preStopSeconds + Math.ceil((b.drainDelayMs + b.timeoutMs) / 1000) + shutdownHeadroomSeconds;
}

export function drainProblems(objects: K8sObject[], contracts: Contracts, install: MeshInstall): string[] {
  const problems: string[] = [];
  if (!install.nativeSidecars) {
    problems.push(
      'istio/install: ENABLE_NATIVE_SIDECARS is not "true", so the sidecar may stop before the app has drained',
    );
  }
  for (const w of workloads(objects)) {
    for (const c of w.pod.containers.filter((c) => isServiceImage(c.image))) {
      const where = `${describe(w.object)} container ${c.name}`;
      const env = (name: string) => c.env?.find((e) => e.name === name)?.value ?? contracts.envDefaults[name];
      const drainDelayMs = Number(env('SHUTDOWN_DRAIN_DELAY_MS'));
      const timeoutMs = Number(env('SHUTDOWN_TIMEOUT_MS'));
      const preStop = c.lifecycle?.preStop;
      const preStopSeconds = preStop?.sleep?.seconds;
      if (typeof preStopSeconds !== 'number') {
        problems.push(`${where}: no preStop sleep (lifecycle.preStop.sleep.seconds)`);
        continue;
      }
      if (!Number.isFinite(drainDelayMs) || !Number.isFinite(timeoutMs)) {
        problems.push(`${where}: SHUTDOWN_DRAIN_DELAY_MS/SHUTDOWN_TIMEOUT_MS are not numbers`);
        continue;
      }
      const gracePeriodSeconds = w.pod.terminationGracePeriodSeconds ?? 30;
      const required = requiredGraceSeconds({ preStopSeconds, drainDelayMs, timeoutMs });
      if (gracePeriodSeconds < required) {
        problems.push(
          `${where}: terminationGracePeriodSeconds ${gracePeriodSeconds} < preStop ${preStopSeconds} s + drain ${drainDelayMs} ms + timeout ${timeoutMs} ms + ${shutdownHeadroomSeconds} s = ${required} s`,
        );
      }
    }
  }
  return problems;
}
