import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { assertFound, requireBinary } from '@recipe-mesh/measure/binaries';
import { freePort, waitFor } from '@recipe-mesh/measure/net';
import { nodeEntryArgs, startProcess } from '@recipe-mesh/measure/process';
import { startRedis } from '@recipe-mesh/measure/redis-server';
import { type GetRecipeResponse, RecipeServiceClient } from '@recipe-mesh/platform/proto/recipes';
import { metricValue, validRecipe } from './helpers.js';
import { repoRoot } from '@recipe-mesh/measure/repo';

const redisBinary = requireBinary('redis-server');
const mainTs = fileURLToPath(new URL('../src/main.ts', import.meta.url));

test('main.ts over REST, GraphQL and gRPC with a real Redis that dies and returns', {
  skip: 'skip' in redisBinary && redisBinary.skip,
  timeout: 45_000,
}, async (t) => {
  assertFound(redisBinary);
  const redis = await startRedis(redisBinary.path);
  t.after(() => redis.stop());
  const [port, grpcPort, adminPort] = [await freePort(), await freePort(), await freePort()];
  const admin = `http://127.0.0.1:${adminPort}`;
  const app = await startProcess({
    name: 'recipe-api',
    command: process.execPath,
    args: nodeEntryArgs(mainTs),
    cwd: repoRoot,
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(port),
      GRPC_PORT: String(grpcPort),
      ADMIN_PORT: String(adminPort),
      REDIS_URL: redis.url,
      REDIS_RECONNECT_MAX_DELAY_MS: '200',
      STORE_LATENCY_MS: '1',
      SHUTDOWN_DRAIN_DELAY_MS: '100',
      LOG_LEVEL: 'warn',
    },
    ready: () => fetch(`${admin}/readyz`).then((r) => r.ok),
    readyTimeoutMs: 15_000,
  });
  const child = app.child;
  t.after(() => app.kill());

  const base = `http://127.0.0.1:${port}`;
  const scrape = { registry: { metrics: () => fetch(`${admin}/metrics`).then((r) => r.text()) } };
  const metric = (name: string, labels: Record<string, string> = {}) => metricValue(scrape, name, labels);
  const asUser = { headers: { 'x-user-id': 'ada' } };

  // REST with cache-aside: the second read of the same view is a hit.
  const first = (await (await fetch(`${base}/recipes/42`, asUser)).json()) as {
    producer_pid: number;
    recipe: { name: string };
  };
  assert.equal(first.recipe.name, 'Chicken Tikka Masala');
  assert.equal(first.producer_pid, child.pid);
  await fetch(`${base}/recipes/42`, asUser);
  assert.equal(await metric('cache_lookups_total', { result: 'hit' }), 1);

  // Preferences invalidate that user's cached views.
  const put = await fetch(`${base}/users/ada/preferences`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ favourites: [42], preferredServings: 2 }),
  });
  assert.equal(put.status, 200);
  assert.equal(((await put.json()) as { invalidated: number }).invalidated, 1);
  const view = (await (await fetch(`${base}/recipes/42`, asUser)).json()) as { userView: unknown };
  assert.deepEqual(view.userView, { favourite: true, preferredServings: 2 });

  // GraphQL and gRPC reach the same catalogue.
  const gql = (await (
    await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ recipe(id: 42) { name } }' }),
    })
  ).json()) as { data: { recipe: { name: string } } };
  assert.equal(gql.data.recipe.name, 'Chicken Tikka Masala');
  const client = new RecipeServiceClient(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
  t.after(() => client.close());
  const viaGrpc = await new Promise<GetRecipeResponse>((resolve, reject) =>
    client.getRecipe({ id: '42' }, (e, v) => (e || !v ? reject(e) : resolve(v))),
  );
  assert.equal(viaGrpc.recipe?.name, 'Chicken Tikka Masala');
  assert.equal(viaGrpc.producerPid, child.pid);

  // A replayed POST creates one recipe.
  const post = () =>
    fetch(`${base}/recipes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'it-1' },
      body: JSON.stringify(validRecipe),
    });
  const created = await post();
  const replayed = await post();
  assert.deepEqual([created.status, replayed.status], [201, 200]);
  assert.deepEqual(await replayed.json(), await created.json());
  const tail = (await (
    await fetch(`${base}/recipes?cursor=${Buffer.from('v1:10000').toString('base64url')}`)
  ).json()) as { recipes: unknown[] };
  assert.equal(tail.recipes.length, 1);

  // Redis dies: answers keep coming from the store, counted as degraded.
  await redis.kill();
  for (let id = 1; id <= 5; id++) assert.equal((await fetch(`${base}/recipes/${id}`, asUser)).status, 200);
  assert.ok((await metric('degraded_responses_total', { reason: 'redis_unavailable' })) >= 5);
  assert.equal(await metric('redis_connection_up'), 0);
  assert.equal(
    (
      await fetch(`${base}/users/ada/preferences`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      })
    ).status,
    503,
  );

  // Redis returns on the same port: caching resumes by itself.
  await redis.start();
  await waitFor(async () => (await metric('redis_connection_up')) === 1, { timeoutMs: 5000, what: 'reconnect' });
  const hitsBefore = await metric('cache_lookups_total', { result: 'hit' });
  await fetch(`${base}/recipes/7`, asUser);
  await fetch(`${base}/recipes/7`, asUser);
  assert.equal(await metric('cache_lookups_total', { result: 'hit' }), hitsBefore + 1);

  child.kill('SIGTERM');
  assert.equal(await app.exited, 0, app.output());
});
