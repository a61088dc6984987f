import express, { type Express } from 'express';
import type { Logger } from 'pino';
import { AppError } from '@recipe-mesh/platform/errors';
import type { FaultRegistry } from '@recipe-mesh/platform/faults';
import type { Metrics } from '@recipe-mesh/platform/metrics';
import { errorHandler, faultInjection, notFound, requestObservability } from '@recipe-mesh/platform/http-observability';
import { methodNotAllowed, serveOpenApi } from '@recipe-mesh/platform/openapi';
import type { RecipeCatalogue } from '../../domain/recipe-catalogue.js';
import { createGraphqlHandler } from '../graphql/yoga.js';
import { producerPid } from '../request-input.js';
import { ExportTracker, exportHandler } from './export.js';
import { recipeApiOpenApiDocument } from './openapi.js';
import { receivePhoto, uploadReceivingFor } from './photo-upload.js';
import { idParam, recipesRouter } from './recipes-router.js';
import type { RecipeApiSwitches } from '../../faults.js';

export interface HttpAppOptions {
  catalogue: RecipeCatalogue;
  faults: FaultRegistry<RecipeApiSwitches>;
  metrics: Metrics;
  logger: Logger;
  jsonBodyLimitBytes: number;
  uploadMaxBytes: number;
  graphqlMaxDepth: number;
  graphqlMaxCost: number;
  exports?: ExportTracker;
}

/**
 * The traffic port: REST and /graphql. Order matters: observability first (so injected faults and
 * 404s are measured), then faults, then routes, then 405 for
 * documented paths asked with another method, the JSON 404 and error mapping.
 */
export function createHttpApp(options: HttpAppOptions): Express {
  const { catalogue, faults, metrics, logger } = options;
  const exports = options.exports ?? new ExportTracker();
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use(
    requestObservability({
      metrics,
      logger,
      fields: (_req, res) => (res.locals.degraded ? { degraded: res.locals.degraded } : {}),
    }),
  );
  // Every answer names its producer, errors and streams included (bodies carry producer_pid too).
  app.use((_req, res, next) => {
    res.set('x-producer-pid', String(producerPid));
    next();
  });
  // The contract, generated from the routes' zod schemas (openapi.ts); like probes, never faulted.
  const contract = recipeApiOpenApiDocument();
  app.get('/openapi.json', serveOpenApi(contract));
  app.use(faultInjection(faults));

  const graphql = createGraphqlHandler({
    catalogue,
    metrics,
    logger,
    maxDepth: options.graphqlMaxDepth,
    maxCost: options.graphqlMaxCost,
  });
  // The REST port's JSON body limit holds for queries too (413, as for REST bodies): yoga reads
  // express' parsed body when there is one (@whatwg-node/server, normalizeNodeRequest).
  app.use(graphql.graphqlEndpoint, express.json({ limit: options.jsonBodyLimitBytes }), (req, res) =>
    graphql(req, res, { req, res }),
  );

  // Before the router's /recipes/:id, which would otherwise take "export" as an id.
  app.get('/recipes/export', exportHandler(catalogue, faults, exports, logger));

  app.post('/recipes/:id/photo', async (req, res) => {
    const id = idParam(req);
    await catalogue.requireRecipe(id);
    if (!req.is('multipart/form-data'))
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'upload must be multipart/form-data');
    // Chosen per request so flipping the `uploadLimits` fault takes effect on the next upload.
    const receiving = uploadReceivingFor(faults.get());
    const photo = await catalogue.savePhoto(await receivePhoto(req, receiving, options.uploadMaxBytes), id);
    res.status(201).json({ producer_pid: producerPid, photo });
  });

  app.use(recipesRouter(catalogue, { jsonBodyLimitBytes: options.jsonBodyLimitBytes, faults }));
  app.use(methodNotAllowed(contract));
  app.use(notFound());
  app.use(errorHandler(logger));
  return app;
}
