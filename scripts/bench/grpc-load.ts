import * as grpc from '@grpc/grpc-js';
import { summarizeRequests, type LoadSummary, type RequestRecord } from '@recipe-mesh/measure/requests';
import { RecipeServiceClient } from '@recipe-mesh/platform/proto/recipes';

/**
 * Closed-loop gRPC load: `concurrency` callers each send the next GetRecipe as soon as the
 * previous answer arrives, over one channel (HTTP/2 multiplexes them, as web-api's client does).
 * OK answers are recorded as status 200 and failures as 0, so the summary reads like autocannon's.
 */
export async function grpcUnaryLoad(options: {
  target: string;
  recipeId: number;
  userId: string;
  concurrency: number;
  durationMs: number;
}): Promise<LoadSummary> {
  const client = new RecipeServiceClient(options.target, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  metadata.set('x-user-id', options.userId);
  const records: RequestRecord[] = [];
  const started = performance.now();
  const end = started + options.durationMs;
  const call = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      client.getRecipe({ id: String(options.recipeId) }, metadata, (error) => {
        records.push({
          startedAtMs: Date.now(),
          status: error ? 0 : 200,
          latencyMs: performance.now() - t0,
          flags: [],
          error: error ? error.message : null,
          bytes: 0,
          burst: 0,
        });
        resolve();
      });
    });
  const caller = async () => {
    while (performance.now() < end) await call();
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency }, caller));
  } finally {
    client.close();
  }
  return summarizeRequests(records, performance.now() - started);
}
