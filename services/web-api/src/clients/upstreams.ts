import type { Metrics } from '@recipe-mesh/platform/metrics';
import { startDurationTimer } from '@recipe-mesh/platform/metrics';
import { UpstreamCaller } from '../upstream/call.js';
import type { Via } from '../upstream/errors.js';
import { GraphqlRecipeClient } from './graphql-client.js';
import { GrpcRecipeClient, createRecipeServiceChannel } from './grpc-client.js';
import { HttpRecipeClient } from './http-client.js';
import { closePool, createRecipeApiPool } from './http-transport.js';
import type { RecipeUpstream } from './types.js';

export interface Upstreams {
  byVia: Record<Via, RecipeUpstream>;
  /** REST-only calls (preferences, export). */
  rest: HttpRecipeClient;
  closeHttpPool(): Promise<void>;
  closeGrpcChannel(): Promise<void>;
}

export interface UpstreamSettings {
  RECIPE_API_URL: string;
  RECIPE_API_GRPC_TARGET: string;
  UPSTREAM_TIMEOUT_MS: number;
  UPSTREAM_RETRIES: number;
  UPSTREAM_MIN_TRY_MS: number;
}

/** The three clients to recipe-api: REST and GraphQL share one undici pool, gRPC has one channel. */
export function createUpstreams(
  settings: UpstreamSettings,
  metrics: Pick<Metrics, 'upstreamDuration' | 'grpcClientDuration'>,
): Upstreams {
  const caller = new UpstreamCaller({
    timeoutMs: settings.UPSTREAM_TIMEOUT_MS,
    retries: settings.UPSTREAM_RETRIES,
    minTryMs: settings.UPSTREAM_MIN_TRY_MS,
    startTimer: () => startDurationTimer(metrics.upstreamDuration),
  });
  const pool = createRecipeApiPool(settings.RECIPE_API_URL);
  const channel = createRecipeServiceChannel(settings.RECIPE_API_GRPC_TARGET);
  const rest = new HttpRecipeClient(pool, caller);
  return {
    byVia: {
      http: rest,
      graphql: new GraphqlRecipeClient(pool, caller),
      grpc: new GrpcRecipeClient(channel, caller, metrics.grpcClientDuration),
    },
    rest,
    closeHttpPool: () => closePool(pool),
    closeGrpcChannel: async () => channel.close(),
  };
}
