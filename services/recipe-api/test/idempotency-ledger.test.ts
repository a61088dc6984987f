import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { AppError } from '@recipe-mesh/platform/errors';
import { createMetrics } from '@recipe-mesh/platform/metrics';
import { assertFound, requireBinary } from '@recipe-mesh/measure/binaries';
import { startRedis } from '@recipe-mesh/measure/redis-server';
import { RedisIdempotencyLedger, type RedisLedgerOptions } from '../src/data-access/idempotency-ledger.js';
import { RedisConnection } from '../src/data-access/redis-connection.js';
import { InMemoryIdempotencyLedger } from '../src/domain/idempotency.js';
import type { Recipe } from '../src/domain/recipe.js';
import { seedRecipe } from '../src/domain/seed.js';
import { memoryCatalogue, metricValue, silentLogger, validRecipe } from './helpers.js';

/**
 * The ledger two recipe-api instances share: each instance here is its own RedisConnection and
 * ledger on one real redis-server, as the manifests' two replicas are on one Redis.
 */
const redisBinary = requireBinary('redis-server');
const skip = 'skip' in redisBinary && redisBinary.skip;

async function twoInstances(t: import('node:test').TestContext, options: Partial<RedisLedgerOptions<Recipe>> = {}) {
  assertFound(redisBinary);
  const server = await startRedis(redisBinary.path);
  t.after(() => server.stop());
  const instance = async () => {
    const redis = new RedisConnection(
      { url: server.url, commandTimeoutMs: 500, connectTimeoutMs: 500, reconnectMaxDelayMs: 200 },
      createMetrics('recipe-api'),
      silentLogger,
    );
    t.after(() => redis.close());
    assert.equal(await redis.waitUntilReady(3000), true);
    return new RedisIdempotencyLedger<Recipe>(redis, {
      ttlMs: 60_000,
      whileRedisAway: new InMemoryIdempotencyLedger<Recipe>(60_000),
      ...options,
    });
  };
  const raw = new Redis(server.url);
  raw.on('error', () => {}); // some tests stop Redis on purpose
  t.after(() => raw.disconnect());
  return { server, raw, a: await instance(), b: await instance() };
}

/** A create the test finishes when it chooses, counting how often the ledger started one. */
function gatedCreate() {
  let calls = 0;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  return {
    calls: () => calls,
    open,
    create: async () => {
      calls += 1;
      await gate;
      return seedRecipe(100 + calls);
    },
  };
}

const hasCode = (code: string) => (error: unknown) => error instanceof AppError && error.code === code;

test('a retry on the other instance, racing the original, gets its result: one create', { skip }, async (t) => {
  const { a, b } = await twoInstances(t);
  const original = gatedCreate();
  const first = a.run('key-1', 'body-1', original.create);
  // The retry arrives while the original is still creating, as Envoy's per-try timeout makes it.
  const retry = b.run('key-1', 'body-1', original.create);
  while (original.calls() === 0) await new Promise((resolve) => setImmediate(resolve));
  original.open();
  assert.deepEqual(await first, { value: seedRecipe(101), replayed: false });
  assert.deepEqual(await retry, { value: seedRecipe(101), replayed: true });
  assert.equal(original.calls(), 1);
  // A later replay on either instance reads the recorded result.
  assert.deepEqual(await a.run('key-1', 'body-1', original.create), { value: seedRecipe(101), replayed: true });
  assert.equal(original.calls(), 1);
});

test('the same key with another body is refused on any instance (422)', { skip }, async (t) => {
  const { a, b } = await twoInstances(t);
  await a.run('key-2', 'body-1', async () => seedRecipe(1));
  await assert.rejects(
    b.run('key-2', 'body-2', async () => seedRecipe(2)),
    hasCode('UNPROCESSABLE'),
  );
});

test('a failed create frees its key: the retry on the other instance creates', { skip }, async (t) => {
  const { a, b, raw } = await twoInstances(t);
  await assert.rejects(
    a.run('key-3', 'body-1', async () => {
      throw new Error('store write failed');
    }),
    /store write failed/,
  );
  assert.equal(await raw.exists('idempotency:key-3'), 0);
  assert.deepEqual(await b.run('key-3', 'body-1', async () => seedRecipe(3)), {
    value: seedRecipe(3),
    replayed: false,
  });
});

test('a first request still creating after the wait answers 409 CONFLICT to the retry', { skip }, async (t) => {
  const { a, b } = await twoInstances(t, { waitMs: 150 });
  const slow = gatedCreate();
  const first = a.run('key-4', 'body-1', slow.create);
  while (slow.calls() === 0) await new Promise((resolve) => setImmediate(resolve));
  await assert.rejects(b.run('key-4', 'body-1', slow.create), hasCode('CONFLICT'));
  slow.open();
  assert.deepEqual(await first, { value: seedRecipe(101), replayed: false });
  assert.equal(slow.calls(), 1);
});

test('a result lives for the TTL; after it the key creates again', { skip }, async (t) => {
  const { a, b, raw } = await twoInstances(t, { ttlMs: 300 });
  await a.run('key-5', 'body-1', async () => seedRecipe(5));
  assert.ok((await raw.pttl('idempotency:key-5')) <= 300);
  const deadline = Date.now() + 5_000;
  while ((await raw.exists('idempotency:key-5')) === 1) {
    assert.ok(Date.now() < deadline, 'the result outlived its TTL');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.deepEqual(await b.run('key-5', 'body-1', async () => seedRecipe(6)), {
    value: seedRecipe(6),
    replayed: false,
  });
});

test("with Redis away the instance's own ledger answers, marked degraded: a replay on it is still recognised", {
  skip,
}, async (t) => {
  const { a, server } = await twoInstances(t);
  await server.kill();
  let created = 0;
  const create = async () => {
    created += 1;
    return seedRecipe(6);
  };
  assert.deepEqual(await a.run('key-6', 'body-1', create), { value: seedRecipe(6), replayed: false, degraded: true });
  assert.deepEqual(await a.run('key-6', 'body-1', create), { value: seedRecipe(6), replayed: true, degraded: true });
  assert.equal(created, 1);
  await assert.rejects(a.run('key-6', 'body-2', create), hasCode('UNPROCESSABLE'));
});

test('once created, the result is answered even when Redis cannot record it', { skip }, async (t) => {
  const { a, server } = await twoInstances(t);
  const value = await a.run('key-7', 'body-1', async () => {
    await server.kill();
    return seedRecipe(7);
  });
  assert.deepEqual(value, { value: seedRecipe(7), replayed: false });
});

test('the catalogue counts a keyed create while Redis is away as degraded, and creates once per key', {
  skip,
}, async (t) => {
  const { a, server } = await twoInstances(t);
  const { catalogue, store, metrics } = memoryCatalogue({ seedCount: 3, ledger: a });
  await server.kill();
  assert.equal((await catalogue.createRecipe(validRecipe, 'key-8')).replayed, false);
  assert.equal((await catalogue.createRecipe(validRecipe, 'key-8')).replayed, true);
  assert.equal((await store.list({ limit: 100, afterId: 0 })).items.length, 4);
  assert.equal(await metricValue(metrics, 'degraded_responses_total', { reason: 'redis_unavailable' }), 2);
});
