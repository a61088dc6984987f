import type { NewRecipe } from '@recipe-mesh/platform/recipe-input';
import * as grpc from '@grpc/grpc-js';
import {
  type CreateRecipeResponse,
  type GetRecipeResponse,
  RecipeServiceClient,
} from '@recipe-mesh/platform/proto/recipes';
import { startDurationTimer, type Metrics } from '@recipe-mesh/platform/metrics';
import type { UpstreamCaller } from '../upstream/call.js';
import { badAnswerError, fromGrpcError } from '../upstream/errors.js';
import { readProducerCreated, readProducerRecipe } from './producer-answer.js';
import type { CallContext, CreateContext, RecipeUpstream } from './types.js';

const via = 'grpc' as const;

/**
 * One channel (one grpc-js client) to recipe-api for the whole process: HTTP/2 multiplexes every
 * call over it. grpc-js reconnects with exponential backoff starting at 1 s and growing to 120 s
 * (gRPC connection-backoff spec); the maximum is lowered so web-api finds a restarted recipe-api
 * within seconds instead of minutes.
 */
export function createRecipeServiceChannel(target: string): RecipeServiceClient {
  return new RecipeServiceClient(target, grpc.credentials.createInsecure(), {
    'grpc.initial_reconnect_backoff_ms': 200,
    'grpc.max_reconnect_backoff_ms': 2_000,
  });
}

type GrpcMethod = 'GetRecipe' | 'CreateRecipe';

/** recipe-api's `recipes.v1.RecipeService` (proto/recipes/v1/recipes.proto). */
export class GrpcRecipeClient implements RecipeUpstream {
  readonly via = via;

  constructor(
    private readonly client: RecipeServiceClient,
    private readonly caller: UpstreamCaller,
    private readonly clientDuration: Metrics['grpcClientDuration'],
  ) {}

  getRecipe(id: number, context: CallContext) {
    // The deadline travels as grpc-js' `grpc-timeout` header, which bounds the sidecar's route too.
    return this.caller.call(
      { via, operation: 'getRecipe', idempotent: true },
      async ({ deadline }) => {
        const response = await this.unary<GetRecipeResponse>('GetRecipe', context.userId, (metadata, callback) =>
          this.client.getRecipe({ id: String(id) }, metadata, { deadline }, callback),
        );
        return readProducerRecipe(
          { producer_pid: response.producerPid, recipe: response.recipe, userView: response.userView },
          via,
        );
      },
      context.deadline,
    );
  }

  createRecipe(input: NewRecipe, context: CreateContext) {
    const idempotent = context.idempotencyKey !== undefined;
    // The route validated the recipe with the shared schema, so every field has its proto type.
    const request = { ...input, idempotencyKey: context.idempotencyKey ?? '' };
    return this.caller.call(
      { via, operation: 'createRecipe', idempotent },
      async ({ deadline }) => {
        const response = await this.unary<CreateRecipeResponse>('CreateRecipe', context.userId, (metadata, callback) =>
          this.client.createRecipe(request, metadata, { deadline }, callback),
        );
        return readProducerCreated(
          { producer_pid: response.producerPid, recipe: response.recipe, replayed: response.replayed },
          via,
        );
      },
      context.deadline,
    );
  }

  /** One unary call as a promise, timed into grpc_client_handling_seconds; failures mapped. */
  private unary<T>(
    method: GrpcMethod,
    userId: string | undefined,
    start: (metadata: grpc.Metadata, callback: (error: grpc.ServiceError | null, value?: T) => void) => unknown,
  ): Promise<T> {
    const metadata = new grpc.Metadata();
    if (userId !== undefined) metadata.set('x-user-id', userId);
    const done = startDurationTimer(this.clientDuration);
    return new Promise<T>((resolve, reject) => {
      try {
        start(metadata, (error, value) => {
          const code = error ? (grpc.status[error.code] ?? String(error.code)) : 'OK';
          done({ grpc_method: method, grpc_code: code });
          if (error) reject(fromGrpcError(error, via));
          else if (value === undefined)
            reject(fromGrpcError({ code: grpc.status.INTERNAL, details: 'empty response' }, via));
          else resolve(value);
        });
      } catch (error) {
        // grpc-js throws synchronously when the request does not serialize: web-api built it wrong.
        done({ grpc_method: method, grpc_code: 'INVALID_ARGUMENT' });
        reject(badAnswerError(via, `request did not serialize: ${(error as Error).message}`, 'client_error', error));
      }
    });
  }
}
