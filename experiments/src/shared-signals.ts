import type { Signal } from './definition.js';
import { countAll, countWhere, ingressToWebApi, webApiInbound, webApiToRecipeApi } from './promql.js';

/**
 * Signals several experiments read the same way: what the caller saw through the ingress, and the
 * hop from web-api's sidecar to recipe-api, where Envoy's own answers (UO, UH, resets) show.
 */

export const callerNon2xx: Signal = {
  title: 'non-2xx answers the caller saw',
  unit: 'responses',
  lab: "the load's own records (status and the ingress' response-flags header)",
  labSource: { kind: 'client' },
  k8s: 'istio_requests_total{reporter="source",source_workload="istio-ingressgateway",destination_workload="web-api",response_code!~"2.."}',
  promql: countWhere('istio_requests_total', ingressToWebApi, 'response_code!~"2.."'),
};

/** Caller failures that web-api's own idle keep-alive close explains (k8s-side.ts isWebApiIdleClose). */
export const webApiIdleCloses: Signal = {
  title: "requests lost at web-api's own sidecar to an idle keep-alive close (503-uc's race)",
  unit: 'responses',
  lab: '.lab/logs/web-api-sidecar.access.log, inbound 503 UC connection_termination',
  labSource: { kind: 'access-log', proxy: 'web-api-sidecar' },
  k8s: 'istio_requests_total{reporter="destination",destination_workload="web-api",response_code="503",response_flags="UC"}',
  promql: countWhere('istio_requests_total', webApiInbound, 'response_code="503",response_flags="UC"'),
};

export const webApiToRecipeApiRequests: Signal = {
  title: "requests from web-api's sidecar to recipe-api",
  unit: 'requests',
  lab: '.lab/logs/web-api-sidecar.access.log, outbound cluster to recipe-api',
  labSource: { kind: 'access-log', proxy: 'web-api-sidecar' },
  k8s: 'istio_requests_total{reporter="source",source_workload="web-api",destination_service_name="recipe-api"}',
  promql: countAll('istio_requests_total', webApiToRecipeApi),
};

/** Requests from web-api's sidecar to recipe-api that ended with `filter`, e.g. `response_flags="UO"`. */
export function webApiToRecipeApiWhere(title: string, filter: string, labWhere: string): Signal {
  return {
    title,
    unit: 'responses',
    lab: `.lab/logs/web-api-sidecar.access.log, ${labWhere}`,
    labSource: { kind: 'access-log', proxy: 'web-api-sidecar' },
    k8s: `istio_requests_total{reporter="source",source_workload="web-api",destination_service_name="recipe-api",${filter}}`,
    promql: countWhere('istio_requests_total', webApiToRecipeApi, filter),
  };
}
