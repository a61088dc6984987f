import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath, type ServingStatus } from 'grpc-health-check';
import type { Health } from '@recipe-mesh/platform/health';
import { loadRecipesProto, recipesProtoPath } from '@recipe-mesh/platform/proto/recipes';
import { recipeServiceHandlers, type RecipeServiceOptions } from './recipe-service.js';

export const recipeServiceName = 'recipes.v1.RecipeService';

export interface GrpcServer {
  server: grpc.Server;
  /** Pushes the current readiness to grpc.health.v1 (call after health.markStarted()). */
  syncHealth(): Promise<void>;
}

/**
 * The gRPC listener: RecipeService plus the standard grpc.health.v1.Health, whose status (overall
 * "" and per service) mirrors the admin port's /readyz, so gRPC-aware probes and meshes agree,
 * and server reflection (grpc.reflection.v1 and v1alpha), so grpcurl, grpcui and Postman list,
 * describe and call both services without a copy of the proto file.
 */
export function createGrpcServer(
  options: RecipeServiceOptions & {
    health: Health;
    /**
     * Largest request message: the JSON body limit of the REST port, so a recipe too large there
     * is too large here (grpc-js answers RESOURCE_EXHAUSTED, the table's PAYLOAD_TOO_LARGE) instead
     * of passing under grpc-js' own 4 MiB.
     */
    maxRequestBytes: number;
  },
): GrpcServer {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': options.maxRequestBytes });
  const proto = loadRecipesProto();
  server.addService(proto.recipes.v1.RecipeService.service, recipeServiceHandlers(options));

  const healthService = new HealthImplementation({ '': 'NOT_SERVING', [recipeServiceName]: 'NOT_SERVING' });
  healthService.addToServer(server);
  // Reflection describes the files as written (keepCase): the service's own loading camel-cases
  // field names for JS, which would publish `ownerId = 5` instead of the contract's `owner_id = 5`.
  const described = protoLoader.loadSync([recipesProtoPath, healthProtoPath], { keepCase: true });
  new ReflectionService(described).addToServer(server);
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
