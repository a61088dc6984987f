import type { NewRecipe } from '@recipe-mesh/platform/recipe-input';
import type { Dispatcher } from 'undici';
import type { Attempt, UpstreamCaller } from '../upstream/call.js';
import { deadlineHeaders } from '../upstream/deadline.js';
import {
  badAnswerError,
  fromGraphqlErrors,
  fromHttpStatus,
  type GraphqlError,
  relayedError,
} from '../upstream/errors.js';
import { requestJson } from './http-transport.js';
import { readProducerCreated, readProducerRecipe } from './producer-answer.js';
import type { CallContext, CreateContext, RecipeUpstream } from './types.js';

const via = 'graphql' as const;

const recipeFields = 'id name cuisine steps ingredients { name quantity unit } ownerId updatedAt servings';

/**
 * recipe-api's schema (services/recipe-api/src/entry-points/graphql/schema.ts): `recipe(id: Int!)`
 * with the per-user `userView` on the recipe, and `producer_pid` in every result's `extensions`.
 * Operations are named so recipe-api's graphql_operation_duration_seconds has a bounded label.
 */
export const getRecipeQuery = `query GetRecipe($id: Int!) {
  recipe(id: $id) { ${recipeFields} userView { favourite preferredServings } }
}`;

export const createRecipeMutation = `mutation CreateRecipe($input: CreateRecipeInput!) {
  createRecipe(input: $input) { recipe { ${recipeFields} } replayed }
}`;

/** recipe-api's GraphQL endpoint (graphql-yoga at `/graphql` on the REST port). */
export class GraphqlRecipeClient implements RecipeUpstream {
  readonly via = via;

  constructor(
    private readonly pool: Dispatcher,
    private readonly caller: UpstreamCaller,
    private readonly path = '/graphql',
  ) {}

  getRecipe(id: number, context: CallContext) {
    // A query has no side effects: always safe to retry.
    return this.caller.call(
      { via, operation: 'getRecipe', idempotent: true },
      async (attempt) => {
        const { data, producerPid } = await this.execute('GetRecipe', getRecipeQuery, { id }, context.userId, attempt);
        const recipe = data.recipe as Record<string, unknown> | null | undefined;
        // recipe-api answers NOT_FOUND as an error; a bare null means the same.
        if (recipe === null)
          throw relayedError('NOT_FOUND', { message: `recipe ${id} not found` }, via, 'recipe: null');
        // The same shape as REST: the user's view next to the recipe, not inside it.
        const { userView, ...fields } = recipe ?? {};
        return readProducerRecipe({ producer_pid: producerPid, recipe: recipe && fields, userView }, via);
      },
      context.deadline,
    );
  }

  createRecipe(input: NewRecipe, context: CreateContext) {
    const idempotent = context.idempotencyKey !== undefined;
    // recipe-api takes the key inside the input; GraphQL's input type rejects unknown fields (400).
    const variables = {
      input: context.idempotencyKey === undefined ? input : { ...input, idempotencyKey: context.idempotencyKey },
    };
    return this.caller.call(
      { via, operation: 'createRecipe', idempotent },
      async (attempt) => {
        const { data, producerPid } = await this.execute(
          'CreateRecipe',
          createRecipeMutation,
          variables,
          context.userId,
          attempt,
        );
        const created = data.createRecipe as Record<string, unknown> | null | undefined;
        return readProducerCreated({ ...created, producer_pid: producerPid }, via);
      },
      context.deadline,
    );
  }

  private async execute(
    operationName: string,
    query: string,
    variables: Record<string, unknown>,
    userId: string | undefined,
    { deadline, deadlineSignal }: Attempt,
  ): Promise<{ data: Record<string, unknown>; producerPid: unknown }> {
    const answer = await requestJson(this.pool, via, {
      method: 'POST',
      path: this.path,
      // graphql-response+json (GraphQL over HTTP spec) makes request errors non-200; plain JSON as fallback.
      headers: {
        accept: 'application/graphql-response+json, application/json',
        'x-user-id': userId,
        ...deadlineHeaders(deadline),
      },
      body: { query, variables, operationName },
      signal: deadlineSignal,
    });
    const body = answer.json as
      | { data?: unknown; errors?: unknown; extensions?: { producer_pid?: unknown } }
      | undefined;
    if (Array.isArray(body?.errors) && body.errors.length > 0)
      throw fromGraphqlErrors(body.errors as GraphqlError[], via);
    if (answer.status < 200 || answer.status >= 300) throw fromHttpStatus(answer.status, answer.json, via);
    if (!body || typeof body.data !== 'object' || body.data === null)
      throw badAnswerError(via, 'GraphQL answer without data');
    return { data: body.data as Record<string, unknown>, producerPid: body.extensions?.producer_pid };
  }
}
