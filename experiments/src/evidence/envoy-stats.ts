import { outboundCluster } from '@recipe-mesh/lab/mesh/description';
import type { LabTarget } from '../definition.js';

/**
 * Envoy admin counters (`LabTarget.envoyStats`) as experiments compare them: what moved between
 * two readings, and the retries among them.
 */

/** The counters that changed from `before` to `after`, by name. */
export function counterDiff(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after)
      .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
      .filter(([, v]) => v !== 0),
  );
}

/** Retries of every cluster in `counts` (`cluster.<name>.upstream_rq_retry`). */
export function sumRetries(counts: Record<string, number>): number {
  return Object.entries(counts)
    .filter(([k]) => k.endsWith('.upstream_rq_retry'))
    .reduce((n, [, v]) => n + v, 0);
}

/** web-api's sidecar cluster for recipe-api's HTTP port, Istio-named as the lab's mesh names it. */
export const recipeApiOutboundCluster = outboundCluster('recipe-api', 4000);

/** One stat (counter or gauge) of web-api's sidecar cluster to recipe-api; null when Envoy has none. */
export async function recipeApiOutboundStat(
  target: Pick<LabTarget, 'envoyStats'>,
  stat: string,
): Promise<number | null> {
  return (await target.envoyStats('web-api-sidecar', stat))[`cluster.${recipeApiOutboundCluster}.${stat}`] ?? null;
}
