import type { RequestHandler } from 'express';
import { errorBody } from './errors.js';
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

const operationMethods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/**
 * 405 with `Allow` for a path the document lists asked with a method it does not (RFC 9110
 * §15.5.6); other paths fall through to the JSON 404. Mounted after the routes, so it sees only
 * requests no route answered. Derived from the served document, so the two cannot disagree.
 * Concrete paths win over templated ones (`/recipes/export` over `/recipes/{id}`), as OpenAPI's
 * "Path Templating Matching" says; HEAD is allowed wherever GET is (express answers it).
 */
export function methodNotAllowed(document: { paths?: Record<string, object> }): RequestHandler {
  const routes = Object.entries(document.paths ?? {})
    .map(([template, item]) => {
      const methods = operationMethods.filter((method) => method in item).map((method) => method.toUpperCase());
      if (methods.includes('GET') && !methods.includes('HEAD')) methods.push('HEAD');
      const source = template
        .split(/\{[^}]+\}/)
        .map((literal) => literal.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))
        .join('[^/]+');
      return { template, templated: template.includes('{'), pattern: new RegExp(`^${source}$`), methods };
    })
    .sort((a, b) => Number(a.templated) - Number(b.templated));
  return (req, res, next) => {
    const route = routes.find((candidate) => candidate.pattern.test(req.path));
    if (!route || route.methods.includes(req.method)) return next();
    res
      .status(405)
      .set('allow', route.methods.join(', '))
      .json(errorBody('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${route.template}`));
  };
}
