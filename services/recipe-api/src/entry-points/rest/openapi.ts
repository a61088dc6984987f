import { z } from 'zod';
import { createDocument, type ZodOpenApiObject, type ZodOpenApiResponseObject } from 'zod-openapi';
import { errorBodySchema, errorResponses } from '@recipe-mesh/platform/openapi';
import { newRecipeSchema, preferencesSchema, recipeIdInputSchema } from '../../domain/recipe.js';
import { requestHeadersSchema } from '@recipe-mesh/platform/request-rules';
import { photoField } from './photo-upload.js';
import { listQuerySchema, userParamsSchema } from './recipes-router.js';

/**
 * recipe-api's REST contract as OpenAPI 3.1, generated from the zod schemas the routes validate
 * requests with (recipes-router.ts, domain/recipe.ts, request-input.ts). Responses are described
 * here, in zod too; schemathesis checks every answer against them (docs/reliability.md).
 */

// Headers as the shared request rules validate them (both optional).
const viewerHeaderSchema = requestHeadersSchema.pick({ 'x-user-id': true });
const idempotencyKeyHeaderSchema = requestHeadersSchema.pick({ 'idempotency-key': true });

/** Every answer names its producer (app.ts). */
const producerPidHeader = z.object({
  'x-producer-pid': z.string().regex(/^\d+$/).meta({ description: 'pid of the recipe-api process that answered' }),
});

// A stored recipe is a new recipe as accepted, plus what the store assigns.
export const recipeSchema = newRecipeSchema
  .extend({ id: z.number().int().positive(), updatedAt: z.iso.datetime() })
  .meta({ id: 'Recipe' });
const userViewSchema = z
  .object({ favourite: z.boolean(), preferredServings: z.number().int().nullable() })
  .strict()
  .meta({ id: 'UserView', description: 'The caller’s view (null when anonymous or while Redis is down)' });
const producerPid = z.number().int().positive();

const json = (schema: z.ZodType, description: string, extra: Partial<ZodOpenApiResponseObject> = {}) => ({
  description,
  headers: producerPidHeader,
  content: { 'application/json': { schema } },
  ...extra,
});
const errors = (...statuses: number[]) => errorResponses(statuses, producerPidHeader);

const createdRecipe = z.object({ producer_pid: producerPid, recipe: recipeSchema }).strict();
const getRecipeLink = {
  GetRecipe: { operationId: 'getRecipe', parameters: { id: '$response.body#/recipe/id' } },
  UploadPhoto: { operationId: 'uploadPhoto', parameters: { id: '$response.body#/recipe/id' } },
};

export const recipeApiOpenApi: ZodOpenApiObject = {
  openapi: '3.1.0',
  info: {
    title: 'recipe-api',
    version: '1.0.0',
    description: 'The producer: recipes over REST (this document), GraphQL at /graphql and gRPC (proto/recipes/v1).',
  },
  paths: {
    '/recipes': {
      get: {
        operationId: 'listRecipes',
        summary: 'Recipes in id order, a page at a time',
        requestParams: { query: listQuerySchema },
        responses: {
          '200': json(
            z
              .object({
                producer_pid: producerPid,
                recipes: z.array(recipeSchema),
                nextCursor: z.string().nullable().meta({ description: 'Pass back as `cursor` for the next page' }),
              })
              .strict(),
            'A page of recipes',
          ),
          ...errors(400),
        },
      },
      post: {
        operationId: 'createRecipe',
        summary: 'Create a recipe; with Idempotency-Key, a retry answers the first result',
        requestParams: { header: idempotencyKeyHeaderSchema.partial() },
        requestBody: { required: true, content: { 'application/json': { schema: newRecipeSchema } } },
        responses: {
          '201': json(createdRecipe, 'Created', {
            headers: producerPidHeader.extend({ location: z.string().regex(/^\/recipes\/\d+$/) }),
            links: getRecipeLink,
          }),
          '200': json(createdRecipe, 'A replay of an earlier request with the same Idempotency-Key', {
            headers: producerPidHeader.extend({ 'idempotent-replayed': z.literal('true'), location: z.string() }),
            links: getRecipeLink,
          }),
          ...errors(400, 409, 413, 415, 422),
        },
      },
    },
    '/recipes/{id}': {
      get: {
        operationId: 'getRecipe',
        summary: 'One recipe, with the caller’s view when x-user-id is sent',
        requestParams: { path: recipeIdInputSchema, header: viewerHeaderSchema.partial() },
        responses: {
          '200': json(
            z.object({ producer_pid: producerPid, recipe: recipeSchema, userView: userViewSchema.nullable() }).strict(),
            'The recipe',
            {
              headers: producerPidHeader.extend({
                'x-degraded': z
                  .string()
                  .optional()
                  .meta({ description: 'Set when the answer skipped Redis (e.g. cache unavailable)' }),
              }),
            },
          ),
          ...errors(400, 404),
        },
      },
    },
    '/recipes/{id}/photo': {
      post: {
        operationId: 'uploadPhoto',
        summary: 'Upload one photo (multipart/form-data), streamed and hashed, bounded in size',
        requestParams: { path: recipeIdInputSchema },
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': {
              schema: z
                .object({ [photoField]: z.string().meta({ format: 'binary', contentMediaType: 'image/jpeg' }) })
                .strict(),
            },
          },
        },
        responses: {
          '201': json(
            z
              .object({
                producer_pid: producerPid,
                photo: z
                  .object({
                    recipeId: z.number().int().positive(),
                    bytes: z.number().int().nonnegative(),
                    sha256: z.string().regex(/^[0-9a-f]{64}$/),
                    contentType: z.string(),
                    filename: z.string(),
                  })
                  .strict(),
              })
              .strict(),
            'Stored',
          ),
          ...errors(400, 404, 413, 415),
        },
      },
    },
    '/recipes/export': {
      get: {
        operationId: 'exportRecipes',
        summary: 'The whole catalogue as NDJSON (one Recipe per line), streamed with backpressure',
        responses: {
          '200': {
            description: 'One JSON Recipe per line',
            headers: producerPidHeader,
            content: { 'application/x-ndjson': { schema: z.string() } },
          },
        },
      },
    },
    '/users/{id}/preferences': {
      put: {
        operationId: 'setPreferences',
        summary: 'Replace a user’s preferences and favourites; invalidates their cached views',
        requestParams: { path: userParamsSchema },
        requestBody: { required: true, content: { 'application/json': { schema: preferencesSchema } } },
        responses: {
          '200': json(
            z
              .object({
                producer_pid: producerPid,
                userId: z.string(),
                preferences: preferencesSchema,
                invalidated: z.number().int().nonnegative(),
                strategy: z.enum(['scan', 'index']),
              })
              .strict(),
            'Stored',
          ),
          ...errors(400, 413, 415),
        },
      },
    },
  },
  components: { schemas: { Error: errorBodySchema } },
};

// Annotated: tsc -b emits declarations, and the inferred type names a private zod-openapi chunk (TS2742).
export const recipeApiOpenApiDocument = (): ReturnType<typeof createDocument> => createDocument(recipeApiOpenApi);
