/**
 * PromQL shapes the experiments' signals share (`$namespace` and `$window` are filled in by
 * targets/k8s.ts). A count of "requests that failed this way" must read 0 when nothing failed,
 * yet nothing at all when the selector is wrong: `sum()` over no series is empty, so a zero made
 * from the unfiltered series keeps a wrong namespace or workload visible as "no data".
 *
 * Counts start from each series' absence: Istio's stats filter creates a series at the first
 * response that carries its labels (istio/proxy source/extensions/filters/http/istio_stats/
 * istio_stats.cc adds to a counter named by the request's tags; nothing exports it at 0 first),
 * so a `response_flags="UC"` or a new 5xx code is born already counting its first burst.
 * `increase()` needs two samples and starts from the first one it sees, so a burst that fits in
 * one scrape interval reads 0 (prometheus/prometheus#1673). A series that did not exist at the
 * window's start (absent from `… offset $window`) counts its whole value; one that did counts its
 * `increase()` (which copes with resets), never its value. The price: a series that was only
 * missing because Prometheus was not scraping then (a restart, a gap longer than its 5 min
 * lookback) counts everything since its pod started.
 */

/** Events in `$window` of the counter series `selector` selects, each counted from its absence. */
export function countSinceAbsent(selector: string): string {
  const atStart = `${selector} offset $window`;
  return `sum((increase(${selector}[$window]) and ${atStart}) or (${selector} unless ${atStart}))`;
}

/** How many requests matching `base` and `filter` the window saw; 0 when only `filter` matches none. */
export function countWhere(metric: string, base: string, filter: string): string {
  return `${countSinceAbsent(`${metric}{${base},${filter}}`)} or 0 * ${countSinceAbsent(`${metric}{${base}}`)}`;
}

/** How many requests matching `base` the window saw. */
export function countAll(metric: string, base: string): string {
  return countSinceAbsent(`${metric}{${base}}`);
}

/** Istio's standard request counter as recipe-api's sidecar reports it. */
export const recipeApiInbound =
  'reporter="destination",destination_workload="recipe-api",destination_workload_namespace="$namespace"';
/** …and as web-api's sidecar reports the calls it passes to web-api. */
export const webApiInbound =
  'reporter="destination",destination_workload="web-api",destination_workload_namespace="$namespace"';
/** …and as the ingress gateway reports calls to web-api: what the caller saw. */
export const ingressToWebApi =
  'reporter="source",source_workload="istio-ingressgateway",destination_workload="web-api",destination_workload_namespace="$namespace"';

/** A service's own series, as the observability component's Prometheus labels its pods. */
export const serviceSeries = (service: string) => `namespace="$namespace",service="${service}"`;

/** What web-api's sidecar reports for its calls to recipe-api (destination_service: an overflow or a reset picks no workload). */
export const webApiToRecipeApi =
  'reporter="source",source_workload="web-api",source_workload_namespace="$namespace",destination_service_name="recipe-api"';
