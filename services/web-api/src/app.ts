import express, { type Express } from 'express';
import { errorHandler, faultInjection, notFound, requestObservability } from '@recipe-mesh/platform/http-observability';
import { methodNotAllowed, serveOpenApi } from '@recipe-mesh/platform/openapi';
import type { Runtime } from '@recipe-mesh/platform/runtime';
import type { Upstreams } from './clients/upstreams.js';
import { callerDeadlines } from './routes/caller-deadline.js';
import { exportRouter } from './routes/export.js';
import { menuRouter } from './routes/menu.js';
import { webApiOpenApiDocument } from './routes/openapi.js';
import { preferencesRouter } from './routes/preferences.js';
import { recipesRouter } from './routes/recipes.js';
import { upstreamErrorHandler } from './routes/upstream-error-handler.js';
import type { WebApiSwitches } from './faults.js';

export interface AppDependencies {
  runtime: Pick<Runtime<WebApiSwitches>, 'logger' | 'metrics' | 'faults'>;
  upstreams: Upstreams;
  menuConcurrency: number;
  /** Recipes are small; a larger body is a mistake or an attack (413). */
  jsonBodyLimitBytes: number;
  /** Kept from the caller's budget for the way back (routes/caller-deadline.ts). */
  deadlineReserveMs: number;
}

/** web-api's public REST app on the traffic port (the probes and /faults live on the admin port). */
export function createApp({
  runtime,
  upstreams,
  menuConcurrency,
  jsonBodyLimitBytes,
  deadlineReserveMs,
}: AppDependencies): Express {
  const { logger, metrics, faults } = runtime;
  const app = express();
  app.disable('x-powered-by');

  // The access line carries `via` (docs/contracts.md, Logs), set by each route once it knows it.
  app.use(
    requestObservability({
      metrics,
      logger,
      fields: (_req, res) => (typeof res.locals.via === 'string' ? { via: res.locals.via } : {}),
    }),
  );
  // The contract, generated from the routes' zod schemas (routes/openapi.ts); the ingress routes it.
  const contract = webApiOpenApiDocument();
  app.get('/openapi.json', serveOpenApi(contract));
  // Before the fault injection: an injected delay spends the caller's budget like real work.
  app.use(callerDeadlines(deadlineReserveMs));
  const injectFaults = faultInjection(faults);
  app.use((req, res, next) => (req.path.startsWith('/api/') ? injectFaults(req, res, next) : next()));
  app.use(express.json({ limit: jsonBodyLimitBytes }));

  // export before `/api/recipes/:id`, which would otherwise take "export" as an id.
  app.use(exportRouter(upstreams, faults, logger));
  app.use(recipesRouter(upstreams, faults));
  app.use(menuRouter(upstreams, menuConcurrency));
  app.use(preferencesRouter(upstreams));

  app.use(methodNotAllowed(contract));
  app.use(notFound());
  app.use(upstreamErrorHandler(logger));
  app.use(errorHandler(logger));
  return app;
}
