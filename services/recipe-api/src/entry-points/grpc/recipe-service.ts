import { once } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import type { Logger } from 'pino';
import { parseInput } from '@recipe-mesh/platform/errors';
import { applyRequestFault, type FaultRegistry } from '@recipe-mesh/platform/faults';
import { startDurationTimer, type Metrics } from '@recipe-mesh/platform/metrics';
import type {
  CreateRecipeRequest,
  CreateRecipeResponse,
  GetRecipeRequest,
  GetRecipeResponse,
  Recipe as ProtoRecipe,
  RecipeServiceHandlers,
} from '@recipe-mesh/platform/proto/recipes';
import type { RecipeCatalogue } from '../../domain/recipe-catalogue.js';
import { newRecipeSchema, recipeIdInputSchema, type Recipe } from '../../domain/recipe.js';
import { idempotencyKeyFromHeader, userIdFromHeader } from '@recipe-mesh/platform/request-rules';
import { producerPid } from '../request-input.js';
import { grpcCodeName, InjectedFaultError, toGrpcStatus } from './status.js';
import type { RecipeApiSwitches } from '../../faults.js';

export interface RecipeServiceOptions {
  catalogue: RecipeCatalogue;
  faults: FaultRegistry<RecipeApiSwitches>;
  metrics: Pick<Metrics, 'grpcServerDuration'>;
  logger: Logger;
}

const toProto = (recipe: Recipe): ProtoRecipe => ({ ...recipe, id: String(recipe.id) });

/** Every call's metadata carries the producer pid, including errors and the ListRecipes stream. */
const pidMetadata = () => {
  const metadata = new grpc.Metadata();
  metadata.set('producer-pid', String(producerPid));
  return metadata;
};

const metadataValue = (metadata: grpc.Metadata, key: string) => {
  const value = metadata.get(key)[0];
  return typeof value === 'string' ? value : undefined;
};

const listRequestSchema = z.object({
  cuisine: z.string().trim().toLowerCase().max(40),
  limit: z.number().int().min(0),
  afterId: z.coerce.number().int().min(0),
});

/**
 * `recipes.v1.RecipeService`. Each handler applies the app faults for its method name, records
 * grpc_server_handling_seconds{grpc_method,grpc_code} and writes one access log line, like the
 * HTTP middleware does for REST.
 */
export function recipeServiceHandlers(options: RecipeServiceOptions): RecipeServiceHandlers {
  const { catalogue, faults, metrics, logger } = options;

  const observe = (method: string) => {
    const stop = startDurationTimer(metrics.grpcServerDuration);
    return (code: grpc.status, extra: Record<string, unknown> = {}) => {
      const seconds = stop({ grpc_method: method, grpc_code: grpcCodeName(code) });
      logger.info(
        {
          method: 'POST',
          route: `/recipes.v1.RecipeService/${method}`,
          grpc_method: method,
          grpc_code: grpcCodeName(code),
          duration_ms: Math.round(seconds * 1e4) / 10,
          ...extra,
        },
        'request',
      );
    };
  };

  const injectFaults = async (method: string) => {
    const status = await applyRequestFault(faults.decide(method));
    if (status !== undefined) throw new InjectedFaultError(status);
  };

  function unary<Req, Res>(
    method: string,
    handle: (call: grpc.ServerUnaryCall<Req, Res>, extra: Record<string, unknown>) => Promise<Res>,
  ): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      const finish = observe(method);
      const extra: Record<string, unknown> = {};
      injectFaults(method)
        .then(() => handle(call, extra))
        .then(
          (response) => {
            finish(grpc.status.OK, extra);
            callback(null, response, pidMetadata());
          },
          (error: unknown) => {
            const status = toGrpcStatus(error, pidMetadata());
            if (status.code === grpc.status.INTERNAL)
              logger.error({ err: error, grpc_method: method }, 'grpc handler failed');
            finish(call.cancelled ? grpc.status.CANCELLED : status.code, extra);
            callback(status);
          },
        );
    };
  }

  return {
    GetRecipe: unary<GetRecipeRequest, GetRecipeResponse>('GetRecipe', async (call, extra) => {
      const id = parseInput(recipeIdInputSchema, call.request, 'request').id;
      const { value, degraded } = await catalogue.getRecipe(
        id,
        userIdFromHeader(metadataValue(call.metadata, 'x-user-id')),
      );
      if (degraded) extra.degraded = degraded;
      // proto3 has no null: an unset preference is 0, an absent view is an unset message.
      const userView = value.userView
        ? { favourite: value.userView.favourite, preferredServings: value.userView.preferredServings ?? 0 }
        : undefined;
      return { recipe: toProto(value.recipe), userView, producerPid };
    }),

    CreateRecipe: unary<CreateRecipeRequest, CreateRecipeResponse>('CreateRecipe', async (call) => {
      const { idempotencyKey, ...fields } = call.request;
      // proto3 sends 0 for an unset int: treat it as "use the default" like an absent JSON field.
      const input = parseInput(newRecipeSchema, { ...fields, servings: fields.servings || undefined }, 'recipe');
      const { recipe, replayed } = await catalogue.createRecipe(input, idempotencyKeyFromHeader(idempotencyKey));
      return { recipe: toProto(recipe), replayed, producerPid };
    }),

    /**
     * Streams in id order, writing only as fast as the client reads (write() → false waits for
     * 'drain') and stopping as soon as the call is cancelled or its deadline passes.
     */
    ListRecipes(call) {
      const finish = observe('ListRecipes');
      const cancelled = new AbortController();
      call.on('cancelled', () => cancelled.abort());
      const stream = async () => {
        await injectFaults('ListRecipes');
        const request = parseInput(listRequestSchema, call.request, 'request');
        call.sendMetadata(pidMetadata());
        let sent = 0;
        const pageSize = request.limit > 0 ? Math.min(request.limit, 200) : 200;
        for await (const recipe of catalogue.allRecipes(pageSize, request.cuisine || undefined, request.afterId)) {
          if (cancelled.signal.aborted) break;
          if (!call.write(toProto(recipe))) await once(call, 'drain', { signal: cancelled.signal });
          sent++;
          if (request.limit > 0 && sent >= request.limit) break;
        }
        return sent;
      };
      stream().then(
        (sent) => {
          if (cancelled.signal.aborted) return finish(grpc.status.CANCELLED, { sent });
          call.end();
          finish(grpc.status.OK, { sent });
        },
        (error: unknown) => {
          if (cancelled.signal.aborted) return finish(grpc.status.CANCELLED);
          const status = toGrpcStatus(error, pidMetadata());
          if (status.code === grpc.status.INTERNAL)
            logger.error({ err: error, grpc_method: 'ListRecipes' }, 'grpc handler failed');
          finish(status.code);
          call.emit('error', status);
        },
      );
    },
  };
}
