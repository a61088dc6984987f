/**
 * PromQL shapes the experiments' signals share (`$namespace` and `$window` are filled in by
 * targets/k8s.ts). A count of "requests that failed this way" must read 0 when nothing failed,
 * yet nothing at all when the selector is wrong: `sum()` over no series is empty, so a zero made
 * from the unfiltered series keeps a wrong namespace or workload visible as "no data".
 */

/** How many requests matching `base` and `filter` the window saw; 0 when only `filter` matches none. */
export function countWhere(metric: string, base: string, filter: string): string {
  return `sum(increase(${metric}{${base},${filter}}[$window])) or 0 * sum(increase(${metric}{${base}}[$window]))`;
}

/** How many requests matching `base` the window saw. */
export function countAll(metric: string, base: string): string {
  return `sum(increase(${metric}{${base}}[$window]))`;
}

/** Istio's standard request counter as recipe-api's sidecar reports it. */
export const recipeApiInbound =
  'reporter="destination",destination_workload="recipe-api",destination_workload_namespace="$namespace"';
/** …and as the ingress gateway reports calls to web-api: what the caller saw. */
export const ingressToWebApi =
  'reporter="source",source_workload="istio-ingressgateway",destination_workload="web-api",destination_workload_namespace="$namespace"';

/** A service's own series, as the observability component's Prometheus labels its pods. */
export const serviceSeries = (service: string) => `namespace="$namespace",service="${service}"`;
