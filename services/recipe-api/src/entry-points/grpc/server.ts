import * as grpc from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import type { Health } from '@recipe-mesh/platform/health';
import { loadRecipesProto } from '@recipe-mesh/platform/proto/recipes';
import { recipeServiceHandlers, type RecipeServiceOptions } from './recipe-service.js';

export const recipeServiceName = 'recipes.v1.RecipeService';

export interface GrpcServer {
  server: grpc.Server;
  /** Pushes the current readiness to grpc.health.v1 (call after health.markStarted()). */
  syncHealth(): Promise<void>;
}

/**
 * The gRPC listener: RecipeService plus the standard grpc.health.v1.Health, whose status (overall
 * "" and per service) mirrors the admin port's /readyz, so gRPC-aware probes and meshes agree.
 */
export function createGrpcServer(options: RecipeServiceOptions & { health: Health }): GrpcServer {
  const server = new grpc.Server();
  const proto = loadRecipesProto();
  server.addService(proto.recipes.v1.RecipeService.service, recipeServiceHandlers(options));

  const healthService = new HealthImplementation({ '': 'NOT_SERVING', [recipeServiceName]: 'NOT_SERVING' });
  healthService.addToServer(server);
  const publish = (ready: boolean) => {
    const status: ServingStatus = ready ? 'SERVING' : 'NOT_SERVING';
    healthService.setStatus('', status);
    healthService.setStatus(recipeServiceName, status);
  };
  options.health.onChange(publish);
  return {
    server,
    async syncHealth() {
      publish((await options.health.readiness()).ready);
    },
  };
}

export function bindGrpcServer(server: grpc.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, boundPort) =>
      error ? reject(error) : resolve(boundPort),
    );
  });
}

/** Let in-flight calls finish (tryShutdown); after `timeoutMs`, cancel what is left (forceShutdown). */
export function stopGrpcServer(server: grpc.Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, timeoutMs);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}
