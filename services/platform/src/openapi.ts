import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { ZodOpenApiResponseObject } from 'zod-openapi';

/**
 * Pieces both services' OpenAPI documents share: the one error shape every HTTP error uses
 * (errors.ts, `{ error: { code, message, details? } }`) and the handler serving a document.
 * Each service builds its document from the zod schemas its routes validate with, so the
 * published contract and the validation cannot drift apart.
 */
export const errorBodySchema = z
  .object({
    error: z
      .object({
        code: z.string().meta({ description: 'Stable machine-readable code (errors.ts), e.g. VALIDATION_FAILED' }),
        message: z.string(),
        details: z.unknown().optional(),
      })
      // web-api adds `upstream` and `via` to failures of recipe-api.
      .catchall(z.unknown()),
  })
  .meta({ id: 'Error' });

const reasons: Record<number, string> = {
  400: 'Invalid input: bad JSON, or a field, parameter or header failing validation (details name each)',
  404: 'No such resource',
  409: 'A request with the same Idempotency-Key is still in progress',
  413: 'Body larger than the limit',
  415: 'Wrong Content-Type',
  422: 'Idempotency-Key reused with a different body',
  502: 'recipe-api answered something unusable',
  503: 'recipe-api unavailable',
  504: 'recipe-api did not answer within the deadline',
};

/** `{ "<status>": <error response> }` for each status, described once. */
export function errorResponses(
  statuses: number[],
  headers?: ZodOpenApiResponseObject['headers'],
): Record<string, ZodOpenApiResponseObject> {
  return Object.fromEntries(
    statuses.map((status) => [
      String(status),
      {
        description: reasons[status] ?? `HTTP ${status}`,
        ...(headers ? { headers } : {}),
        content: { 'application/json': { schema: errorBodySchema } },
      },
    ]),
  );
}

/** `GET /openapi.json`: the document, serialised once. */
export function serveOpenApi(document: object): RequestHandler {
  const body = JSON.stringify(document);
  return (_req, res) => {
    res.type('application/json').send(body);
  };
}
