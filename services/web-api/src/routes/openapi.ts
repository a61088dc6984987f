import { z } from 'zod';
import { createDocument, type ZodOpenApiObject } from 'zod-openapi';
import { errorBodySchema, errorResponses } from '@recipe-mesh/platform/openapi';
import { newRecipeSchema, preferencesSchema } from '@recipe-mesh/platform/recipe-input';
import { requestHeadersSchema } from '@recipe-mesh/platform/request-rules';
import { vias } from '../upstream/errors.js';
import { menuQuery } from './menu.js';
import { userParams } from './preferences.js';
import { idParams } from './recipes.js';
import { restOnlyViaQuery, viaQuery } from './request-input.js';

/**
 * web-api's public REST contract as OpenAPI 3.1, generated from the zod schemas its routes validate
 * with (routes/*.ts). Request bodies are recipe-api's to validate; they are published with the
 * same shared schemas (platform/recipe-input.ts). What comes back from recipe-api is described
 * only as far as web-api reads it (clients/types.ts). schemathesis checks every answer (docs/reliability.md).
 */

// Headers as the shared request rules validate them (both optional).
const userIdHeader = requestHeadersSchema.pick({ 'x-user-id': true });
const idempotencyKeyHeader = requestHeadersSchema.pick({ 'idempotency-key': true });

const consumer = { consumer_pid: z.number().int().positive(), via: z.enum(vias) };
const recipe = z
  .object({ id: z.number().int().positive(), name: z.string() })
  .catchall(z.unknown())
  .meta({ id: 'ProducerRecipe', description: 'The recipe as recipe-api sent it, id as a number' });
const producerRecipe = z
  .object({
    producer_pid: z.number().int().positive(),
    recipe,
    userView: z.record(z.string(), z.unknown()).nullable().optional(),
  })
  .meta({ id: 'Producer' });
const created = z.object({
  ...consumer,
  producer: z.object({ producer_pid: z.number().int().positive(), recipe, replayed: z.boolean() }),
});
const json = (schema: z.ZodType, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
// 502/503/504 are recipe-api failing; fuzzing a healthy mesh must never see them.
const upstreamFailures = [502, 503, 504];
const createdLinks = {
  GetRecipe: { operationId: 'getRecipe', parameters: { id: '$response.body#/producer/recipe/id' } },
  // The same Idempotency-Key again: a replay (200) or, with another body, 422 UNPROCESSABLE, whichever
  // via carries it; schemathesis' stateful phase follows it (docs/reliability.md).
  ReuseIdempotencyKey: {
    operationId: 'createRecipe',
    parameters: { 'header.idempotency-key': '$request.header.idempotency-key' },
  },
};

export const webApiOpenApi: ZodOpenApiObject = {
  openapi: '3.1.0',
  info: {
    title: 'web-api',
    version: '1.0.0',
    description: 'The public API. `via` picks how web-api calls recipe-api: REST, GraphQL or gRPC.',
  },
  paths: {
    '/api/recipes/{id}': {
      get: {
        operationId: 'getRecipe',
        summary: 'One recipe through recipe-api, with the caller’s view when x-user-id is sent',
        requestParams: { path: idParams, query: viaQuery, header: userIdHeader.partial() },
        responses: {
          '200': json(z.object({ ...consumer, producer: producerRecipe }), 'The recipe'),
          ...errorResponses([400, 404, ...upstreamFailures]),
        },
      },
    },
    '/api/recipes': {
      post: {
        operationId: 'createRecipe',
        summary: 'Create a recipe through recipe-api, forwarding Idempotency-Key',
        requestParams: { query: viaQuery, header: idempotencyKeyHeader.partial().extend(userIdHeader.partial().shape) },
        requestBody: {
          required: true,
          content: {
            'application/json': {
              // recipe-api validates it (the shared schema): web-api forwards it as sent.
              schema: newRecipeSchema,
            },
          },
        },
        responses: {
          '201': { ...json(created, 'Created'), links: createdLinks },
          '200': {
            ...json(created, 'A replay of an earlier request with the same Idempotency-Key'),
            links: createdLinks,
          },
          ...errorResponses([400, 409, 413, 415, 422, ...upstreamFailures]),
        },
      },
    },
    '/api/menu': {
      get: {
        operationId: 'getMenu',
        summary: 'Several recipes fetched in parallel (bounded), in the order asked',
        requestParams: { query: menuQuery.extend(viaQuery.shape), header: userIdHeader.partial() },
        responses: {
          '200': json(z.object({ ...consumer, producers: z.array(producerRecipe) }), 'The recipes'),
          ...errorResponses([400, 404, ...upstreamFailures]),
        },
      },
    },
    '/api/recipes/export': {
      get: {
        operationId: 'exportRecipes',
        summary: 'recipe-api’s NDJSON export streamed through (REST only)',
        requestParams: { query: restOnlyViaQuery },
        responses: {
          '200': {
            description: 'One JSON recipe per line',
            content: { 'application/x-ndjson': { schema: z.string() } },
          },
          ...errorResponses([400, ...upstreamFailures]),
        },
      },
    },
    '/api/users/{id}/preferences': {
      put: {
        operationId: 'setPreferences',
        summary: 'Replace a user’s preferences at recipe-api (REST only)',
        requestParams: { path: userParams, query: restOnlyViaQuery },
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: preferencesSchema,
            },
          },
        },
        responses: {
          '200': json(
            z.object({
              ...consumer,
              producer: z.object({ producer_pid: z.number().int().positive() }).catchall(z.unknown()),
            }),
            'Stored',
          ),
          ...errorResponses([400, 413, 415, ...upstreamFailures]),
        },
      },
    },
  },
  components: { schemas: { Error: errorBodySchema } },
};

// Annotated: tsc -b emits declarations, and the inferred type names a private zod-openapi chunk (TS2742).
export const webApiOpenApiDocument = (): ReturnType<typeof createDocument> => createDocument(webApiOpenApi);
