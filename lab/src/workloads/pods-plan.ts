import { readPodBehaviours, type PodBehaviour } from './manifests.js';
import { serviceNames, type ServiceName } from './services.js';

/**
 * What the lab will run for each service: the manifests' pods (manifests.ts) with the lab's
 * options applied, and every departure from the manifests as a line for status and reports.
 */

export interface PodsPlan {
  source: string;
  pods: Record<ServiceName, PodBehaviour>;
  replicas: Record<ServiceName, number>;
  manifestReplicas: Record<ServiceName, number>;
  departures: string[];
}

export function planPods(
  root: string,
  options: { replicas: Partial<Record<ServiceName, number>>; mesh: boolean; probePeriodMs?: number },
): PodsPlan {
  // Every way this lab departs from the manifests: status prints them, every report carries them.
  const departures: string[] = [];
  const behaviours = readPodBehaviours(root, departures);
  const replicas = labReplicas(behaviours.services, options.replicas, options.mesh, departures);
  const pods = podsAsRun(behaviours.services, replicas, options.probePeriodMs, departures);
  const manifestReplicas = Object.fromEntries(serviceNames.map((s) => [s, behaviours.services[s].replicas])) as Record<
    ServiceName,
    number
  >;
  return { source: behaviours.source, pods, replicas, manifestReplicas, departures };
}

/**
 * Instances per service: the manifests' replicas unless an option says otherwise. Without the
 * mesh every service runs one instance (callers reach the app directly). Each departure from the
 * manifests becomes a line of `notes` (status and reports show them).
 */
function labReplicas(
  manifests: Record<ServiceName, PodBehaviour>,
  wanted: Partial<Record<ServiceName, number>>,
  mesh: boolean,
  notes: string[],
): Record<ServiceName, number> {
  const out = {} as Record<ServiceName, number>;
  for (const service of serviceNames) {
    const count = wanted[service] ?? (mesh ? manifests[service].replicas : 1);
    if (count < manifests[service].replicas)
      notes.push(
        `${service} runs ${count} instance${count === 1 ? '' : 's'}, the manifests ${manifests[service].replicas}${mesh ? ' (lab option --replicas)' : ' (no mesh: apps are called directly)'}`,
      );
    out[service] = count;
  }
  return out;
}

/** The pod behaviour the lab runs: the manifests', with its replica count and any probe override. */
function podsAsRun(
  manifests: Record<ServiceName, PodBehaviour>,
  replicas: Record<ServiceName, number>,
  probePeriodMs: number | undefined,
  notes: string[],
): Record<ServiceName, PodBehaviour> {
  const out = {} as Record<ServiceName, PodBehaviour>;
  for (const service of serviceNames) {
    const pod = manifests[service];
    const readiness = pod.readiness && probePeriodMs ? { ...pod.readiness, periodMs: probePeriodMs } : pod.readiness;
    if (readiness && readiness !== pod.readiness)
      notes.push(
        `${service}'s readiness is probed every ${probePeriodMs} ms, the manifests every ${pod.readiness!.periodMs} ms (lab option)`,
      );
    out[service] = { ...pod, replicas: replicas[service], readiness };
  }
  return out;
}
