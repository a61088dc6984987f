import http from 'node:http';
import { createRuntime, exitOnStartupError } from '@recipe-mesh/platform/runtime';
import { loadRecipeApiConfig } from './config.js';
import { recipeApiSwitches } from './faults.js';
import { createDataAccess } from './data-access/create-data-access.js';
import { InMemoryRecipeStore } from './domain/recipe-store.js';
import { RecipeCatalogue } from './domain/recipe-catalogue.js';
import { createHttpApp } from './entry-points/rest/app.js';
import { bindGrpcServer, createGrpcServer, stopGrpcServer } from './entry-points/grpc/server.js';

const service = 'recipe-api';

/** Wiring only: config → runtime (logger, metrics, admin) → store and Redis → listeners → shutdown. */
async function main(): Promise<void> {
  const config = loadRecipeApiConfig();
  const runtime = await createRuntime(service, config, recipeApiSwitches);
  const { logger, metrics, health, faults } = runtime;

  const store = new InMemoryRecipeStore({ seedCount: config.STORE_SEED_COUNT, latencyMs: config.STORE_LATENCY_MS });
  logger.info({ recipes: store.count(), latency_ms: config.STORE_LATENCY_MS }, 'store seeded');

  // The fault document overrides the configured strategy live (docs/contracts.md).
  const strategy = () => faults.get().invalidationStrategy ?? config.INVALIDATION_STRATEGY;
  const data = createDataAccess(config, strategy, metrics, logger);
  const { redis } = data;
  if (redis) {
    // Readiness deliberately has no Redis check: every read degrades to the store without it, and a
    // Redis outage failing /readyz would pull every replica out of the load balancer at once,
    // turning a slower service into no service (see platform/src/health.ts).
    runtime.addDependencyClose('redis', () => redis.close());
    // The `readinessDependsOnRedis` fault builds the mistake on purpose (docs/experiments.md,
    // no-healthy-upstream): /readyz then PINGs Redis, so one stalled Redis fails every replica.
    health.addReadinessCheck('redis', async () =>
      faults.get().readinessDependsOnRedis === true
        ? redis
            .run('ping', (client) => client.ping())
            .then(
              () => true,
              () => false,
            )
        : true,
    );
    await redis.waitUntilReady(1000);
  }

  const catalogue = new RecipeCatalogue({
    store,
    ...data,
    metrics,
    logger,
  });

  const app = createHttpApp({
    catalogue,
    faults,
    metrics,
    logger,
    jsonBodyLimitBytes: config.JSON_BODY_LIMIT_BYTES,
    uploadMaxBytes: config.UPLOAD_MAX_BYTES,
    graphqlMaxDepth: config.GRAPHQL_MAX_DEPTH,
    graphqlMaxCost: config.GRAPHQL_MAX_COST,
  });
  await runtime.serveHttp(http.createServer(app), config.PORT, 'http');

  const grpc = createGrpcServer({
    catalogue,
    faults,
    metrics,
    logger,
    health,
    maxRequestBytes: config.JSON_BODY_LIMIT_BYTES,
  });
  const grpcPort = await bindGrpcServer(grpc.server, config.HOST, config.GRPC_PORT);
  runtime.addListenerStop('grpc', (timeoutMs) => stopGrpcServer(grpc.server, timeoutMs));
  logger.info({ listener: 'grpc', port: grpcPort }, 'listening');

  // Seeded and listening: startup is done, readiness may pass (and gRPC health says SERVING).
  health.markStarted();
  await grpc.syncHealth();
  runtime.enableShutdown();
}

main().catch((error: unknown) => exitOnStartupError(service, error));
