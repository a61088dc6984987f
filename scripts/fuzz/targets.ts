import type { LabState } from '@recipe-mesh/lab/process/state';
import { type FuzzTarget, graphqlChecks, restChecks } from './schemathesis.js';

/**
 * What `make test` and `make fuzz` fuzz in a lab: recipe-api's REST and /graphql on its own
 * traffic port (behind no proxy, so a 5xx is the app's), and web-api through the ingress, the
 * way users reach it (its /openapi.json is routed there; recipe-api's is not).
 */
export function labTargets(state: LabState, graphqlSdl: string): FuzzTarget[] {
  const recipeApi = `http://127.0.0.1:${state.ports.recipeApi}`;
  return [
    { name: 'recipe-api REST', location: `${recipeApi}/openapi.json`, checks: restChecks },
    {
      name: 'recipe-api GraphQL',
      location: graphqlSdl,
      url: `${recipeApi}/graphql`,
      checks: graphqlChecks,
    },
    {
      name: 'web-api via ingress',
      location: `${state.endpoints.publicUrl}/openapi.json`,
      checks: restChecks,
      throughEnvoy: true,
    },
  ];
}
