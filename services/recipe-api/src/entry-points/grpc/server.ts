import * as grpc from '@grpc/grpc-js';
import { HealthService, healthServiceDescriptor, type ServingStatus } from '@recipe-mesh/platform/grpc/health-service';
import { addReflection } from '@recipe-mesh/platform/grpc/reflection-service';
import type { Health } from '@recipe-mesh/platform/health';
import {
  recipeServiceDefinition,
  recipeServiceDescriptor,
  recipeServiceName,
} from '@recipe-mesh/platform/proto/recipes';
import { recipeServiceHandlers, type RecipeServiceOptions } from './recipe-service.js';

export { recipeServiceName };

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
  server.addService(recipeServiceDefinition, recipeServiceHandlers(options));

  const healthService = new HealthService({ '': 'NOT_SERVING', [recipeServiceName]: 'NOT_SERVING' });
  healthService.addToServer(server);
  // The descriptors generated from proto/ keep the files as written (`owner_id = 5`).
  addReflection(server, [recipeServiceDescriptor, healthServiceDescriptor]);
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
