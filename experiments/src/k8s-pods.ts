/**
 * The pods of a Deployment, found as its ReplicaSets find them: by the Deployment's own
 * `spec.selector` (matchLabels and matchExpressions, as a label selector string for
 * `kubectl get pods -l`), never by a label guessed from the name. A fault or an evidence read on
 * `deploy/<name>` reaches one pod (kubectl picks one); these names let the k8s target reach each.
 */

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

/** `kubectl get deployment <name> -o json` → the selector string its pods match (kubectl's `-l` syntax). */
export function deploymentSelector(deploymentJson: string): string {
  const deployment = JSON.parse(deploymentJson) as {
    metadata?: { name?: string };
    spec?: { selector?: LabelSelector };
  };
  const selector = deployment.spec?.selector;
  const parts = Object.entries(selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of selector?.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else parts.push(`!${e.key}`);
  }
  // An empty selector would match every pod of the namespace; the API server refuses it for apps/v1.
  if (parts.length === 0) throw new Error(`deployment ${deployment.metadata?.name ?? '?'} has no selector`);
  return parts.join(',');
}

export interface PodInfo {
  name: string;
  phase: string;
  ready: boolean;
}

/**
 * `kubectl get pods -l <selector> -o json` → the pods that serve: Running and not being deleted
 * (a terminating pod still listed during a rollout takes no new fault), sorted by name.
 */
export function servingPods(podListJson: string): PodInfo[] {
  const list = JSON.parse(podListJson) as {
    items: {
      metadata: { name: string; deletionTimestamp?: string };
      status?: { phase?: string; conditions?: { type: string; status: string }[] };
    }[];
  };
  return list.items
    .filter((p) => !p.metadata.deletionTimestamp && p.status?.phase === 'Running')
    .map((p) => ({
      name: p.metadata.name,
      phase: p.status?.phase ?? 'Unknown',
      ready: (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The serving pods of a Deployment, read with `kubectl` (already pinned to the cluster and namespace). */
export async function podsOfDeployment(
  kubectl: (args: string[]) => Promise<string>,
  deployment: string,
): Promise<PodInfo[]> {
  const selector = deploymentSelector(await kubectl(['get', 'deployment', deployment, '-o', 'json']));
  return servingPods(await kubectl(['get', 'pods', '-l', selector, '-o', 'json']));
}

/** One container's restarts as its pod's status tells them; `reason` of the last termination (OOMKilled, Error…). */
export interface ContainerRestarts {
  pod: string;
  container: string;
  restarts: number;
  lastReason: string | null;
}

/** `kubectl get pods -o json` → every container's restart count and why it last ended. */
export function containerRestarts(podListJson: string): ContainerRestarts[] {
  const list = JSON.parse(podListJson) as {
    items: {
      metadata: { name: string };
      status?: {
        containerStatuses?: {
          name: string;
          restartCount?: number;
          lastState?: { terminated?: { reason?: string } };
        }[];
      };
    }[];
  };
  return list.items.flatMap((p) =>
    (p.status?.containerStatuses ?? []).map((c) => ({
      pod: p.metadata.name,
      container: c.name,
      restarts: c.restartCount ?? 0,
      lastReason: c.lastState?.terminated?.reason ?? null,
    })),
  );
}

/** The containers that restarted between two readings (a pod new in `after` counts from 0), as report lines. */
export function restartsBetween(before: ContainerRestarts[], after: ContainerRestarts[]): string[] {
  const was = new Map(before.map((r) => [`${r.pod}/${r.container}`, r.restarts]));
  return after
    .filter((r) => r.restarts > (was.get(`${r.pod}/${r.container}`) ?? 0))
    .map(
      (r) =>
        `pod ${r.pod}: container ${r.container} restarted ${r.restarts - (was.get(`${r.pod}/${r.container}`) ?? 0)} time(s) during the run${r.lastReason ? ` (last: ${r.lastReason})` : ''}`,
    );
}
