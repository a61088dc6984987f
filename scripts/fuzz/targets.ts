import type { LabState } from '@recipe-mesh/lab/process/state';
import { vias, type Via } from '@recipe-mesh/platform/request-rules';
import { webApiOpenApiDocument } from '../../services/web-api/src/routes/openapi.js';
import { type FuzzTarget, graphqlChecks, type OperationSettings, restChecks } from './schemathesis.js';

/**
 * web-api's operations by how they take `via`, read from its OpenAPI document: `perVia` ones
 * offer every protocol (the parameter's enum), `restOnly` ones only `http` (a const).
 */
export function webApiOperationsByVia(): { perVia: string[]; restOnly: string[] } {
  const perVia: string[] = [];
  const restOnly: string[] = [];
  for (const item of Object.values(webApiOpenApiDocument().paths ?? {})) {
    for (const operation of Object.values(item ?? {})) {
      const { operationId, parameters } = (operation ?? {}) as {
        operationId?: string;
        parameters?: { name?: string; in?: string; schema?: { enum?: unknown[] } }[];
      };
      const via = parameters?.find((p) => p.in === 'query' && p.name === 'via');
      if (!operationId || !via) continue;
      (via.schema?.enum?.length === vias.length ? perVia : restOnly).push(operationId);
    }
  }
  return { perVia, restOnly };
}

/**
 * One run of web-api per via: `via` pinned on every operation that offers each protocol, so every
 * generated call and stateful sequence (create, then read it back or reuse its Idempotency-Key)
 * goes over that protocol to recipe-api. The REST-only operations run once, in the http run.
 */
export function webApiViaTargets(publicUrl: string): FuzzTarget[] {
  const { perVia, restOnly } = webApiOperationsByVia();
  return vias.map((via: Via) => {
    const operations: Record<string, OperationSettings> = {};
    for (const id of perVia) operations[id] = { pinnedQuery: { via } };
    for (const id of restOnly) if (via !== 'http') operations[id] = { disabled: true };
    // The stateful phase follows ReuseIdempotencyKey (the same key with a new body): 422
    // UNPROCESSABLE is then the contract, a rejection of a request's state, not of its data,
    // like the 409 schemathesis already accepts.
    operations.createRecipe = { ...operations.createRecipe, acceptedStatuses: [...acceptedByDefault, '422'] };
    return {
      name: `web-api via=${via} through the ingress`,
      location: `${publicUrl}/openapi.json`,
      checks: restChecks,
      throughEnvoy: true,
      operations,
    };
  });
}

/** positive_data_acceptance's own list (schemathesis 4, checks reference). */
const acceptedByDefault = ['2xx', '3xx', '401', '403', '404', '409', '429', '5xx'];

/**
 * What `make test` and `make fuzz` fuzz in a lab: recipe-api's REST and /graphql on its own
 * traffic port (behind no proxy, so a 5xx is the app's), and web-api through the ingress, the
 * way users reach it (its /openapi.json is routed there; recipe-api's is not), once per via.
 */
export function labTargets(state: Pick<LabState, 'ports' | 'endpoints'>, graphqlSdl: string): FuzzTarget[] {
  const recipeApi = `http://127.0.0.1:${state.ports.recipeApi}`;
  return [
    { name: 'recipe-api REST', location: `${recipeApi}/openapi.json`, checks: restChecks },
    {
      name: 'recipe-api GraphQL',
      location: graphqlSdl,
      url: `${recipeApi}/graphql`,
      checks: graphqlChecks,
    },
    ...webApiViaTargets(state.endpoints.publicUrl),
  ];
}
