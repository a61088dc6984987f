import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { Health } from '@recipe-mesh/platform/health';
import { healthServiceDescriptor } from '@recipe-mesh/platform/grpc/health-service';
import { serviceClient } from '@recipe-mesh/platform/grpc/service-definition';
import {
  type CreateRecipeResponse,
  type GetRecipeResponse,
  RecipeServiceClient,
} from '@recipe-mesh/platform/proto/recipes';
import { waitFor } from '@recipe-mesh/measure/net';
import { bindGrpcServer, createGrpcServer, stopGrpcServer } from '../src/entry-points/grpc/server.js';
import { memoryCatalogue, metricValue, silentLogger, validRecipe } from './helpers.js';

async function startGrpc(t: TestContext, seedCount = 300) {
  const deps = memoryCatalogue({ seedCount });
  const health = new Health();
  const grpcServer = createGrpcServer({ ...deps, logger: silentLogger, health, maxRequestBytes: 65_536 });
  const port = await bindGrpcServer(grpcServer.server, '127.0.0.1', 0);
  const client = new RecipeServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.after(async () => {
    client.close();
    await stopGrpcServer(grpcServer.server, 1000);
  });
  return { ...deps, health, grpcServer, port, client };
}

const unary = <Res>(call: (cb: (error: grpc.ServiceError | null, value?: Res) => void) => void) =>
  new Promise<Res>((resolve, reject) => call((error, value) => (error ? reject(error) : resolve(value as Res))));
const codeOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
    return 'OK';
  } catch (error) {
    return grpc.status[(error as grpc.ServiceError).code];
  }
};

test('GetRecipe answers with producer_pid; INVALID_ARGUMENT and NOT_FOUND are used', async (t) => {
  const { client, metrics } = await startGrpc(t);
  const got = await unary<GetRecipeResponse>((cb) => client.getRecipe({ id: '42' }, cb));
  assert.equal(got.recipe?.name, 'Chicken Tikka Masala');
  assert.equal(got.recipe?.id, '42');
  assert.equal(got.producerPid, process.pid);
  assert.equal(await codeOf(unary((cb) => client.getRecipe({ id: '0' }, cb))), 'INVALID_ARGUMENT');
  assert.equal(await codeOf(unary((cb) => client.getRecipe({ id: '99999' }, cb))), 'NOT_FOUND');
  const md = new grpc.Metadata();
  md.set('x-user-id', 'not valid!');
  assert.equal(await codeOf(unary((cb) => client.getRecipe({ id: '42' }, md, cb))), 'INVALID_ARGUMENT');
  assert.equal(
    await metricValue(metrics, 'grpc_server_handling_seconds_count', {
      grpc_method: 'GetRecipe',
      grpc_code: 'NOT_FOUND',
    }),
    1,
  );
});

test('CreateRecipe validates, replays by idempotency_key, and rejects a reused key', async (t) => {
  const { client, store } = await startGrpc(t);
  const invalid = unary((cb) => client.createRecipe({ ...validRecipe, steps: [] }, cb));
  await assert.rejects(
    invalid,
    (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && e.details.includes('steps'),
  );
  const first = await unary<CreateRecipeResponse>((cb) =>
    client.createRecipe({ ...validRecipe, idempotencyKey: 'grpc-1' }, cb),
  );
  const again = await unary<CreateRecipeResponse>((cb) =>
    client.createRecipe({ ...validRecipe, idempotencyKey: 'grpc-1' }, cb),
  );
  assert.equal(first.replayed, false);
  assert.equal(again.replayed, true);
  assert.equal(again.recipe?.id, first.recipe?.id);
  assert.equal(store.count(), 301);
  assert.equal(
    await codeOf(unary((cb) => client.createRecipe({ ...validRecipe, name: 'Else', idempotencyKey: 'grpc-1' }, cb))),
    'FAILED_PRECONDITION',
  );
});

test('ListRecipes streams in id order with limit, cuisine and after_id', async (t) => {
  const { client } = await startGrpc(t);
  const collect = (request: object) =>
    new Promise<{ id: string; cuisine: string }[]>((resolve, reject) => {
      const items: { id: string; cuisine: string }[] = [];
      client
        .listRecipes(request)
        .on('data', (r) => items.push(r))
        .on('end', () => resolve(items))
        .on('error', reject);
    });
  const all = await collect({});
  assert.deepEqual(
    all.map((r) => Number(r.id)),
    Array.from({ length: 300 }, (_, i) => i + 1),
  );
  const some = await collect({ limit: 5, afterId: 10 });
  assert.deepEqual(
    some.map((r) => Number(r.id)),
    [11, 12, 13, 14, 15],
  );
  const thai = await collect({ cuisine: 'thai' });
  assert.ok(thai.length > 0 && thai.every((r) => r.cuisine === 'thai'));
  await assert.rejects(collect({ limit: -1 }), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT);
});

test('a cancelled ListRecipes stops producing', async (t) => {
  const { client, metrics } = await startGrpc(t, 20_000);
  const call = client.listRecipes({});
  await new Promise<void>((resolve) => call.once('data', () => resolve()));
  call.cancel();
  call.on('error', () => {});
  await waitFor(
    async () =>
      (await metricValue(metrics, 'grpc_server_handling_seconds_count', {
        grpc_method: 'ListRecipes',
        grpc_code: 'CANCELLED',
      })) === 1,
    { what: 'cancelled stream recorded' },
  );
});

test('injected 503 faults are UNAVAILABLE; health mirrors readiness', async (t) => {
  const { client, faults, health, port } = await startGrpc(t);
  faults.set({ errors: { status: 503, percent: 100, routes: ['GetRecipe'] } });
  assert.equal(await codeOf(unary((cb) => client.getRecipe({ id: '1' }, cb))), 'UNAVAILABLE');
  assert.equal(await codeOf(unary((cb) => client.createRecipe({ ...validRecipe }, cb))), 'OK');

  const HealthClient = serviceClient(healthServiceDescriptor);
  const healthClient = new HealthClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.after(() => healthClient.close());
  const check = (service: string) =>
    unary<{ status?: string }>((cb) => healthClient.check({ service }, cb)).then((r) => r.status);
  assert.equal(await check(''), 'NOT_SERVING');
  health.markStarted();
  health.setForcedUnready(false);
  await waitFor(async () => (await check('recipes.v1.RecipeService')) === 'SERVING', { what: 'SERVING' });
  health.setForcedUnready(true);
  await waitFor(async () => (await check('')) === 'NOT_SERVING', { what: 'NOT_SERVING' });
});
