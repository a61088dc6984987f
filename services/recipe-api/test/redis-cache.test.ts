import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { createMetrics } from '@recipe-mesh/platform/metrics';
import { requireBinary } from '@recipe-mesh/measure/binaries';
import { startRedis } from '@recipe-mesh/measure/redis-server';
import { RedisConnection } from '../src/data-access/redis-connection.js';
import { RedisViewCache } from '../src/data-access/view-cache.js';
import { IndexInvalidation, ScanInvalidation, SwitchableInvalidator } from '../src/data-access/invalidation.js';
import { RedisUserData } from '../src/data-access/user-data.js';
import { DependencyUnavailableError, type InvalidationStrategyName } from '../src/domain/ports.js';
import { seedRecipe } from '../src/domain/seed.js';
import { metricValue, silentLogger } from './helpers.js';

const redisBinary = requireBinary('redis-server');

async function setup(t: import('node:test').TestContext) {
  if (!('path' in redisBinary)) throw new Error('unreachable');
  const server = await startRedis(redisBinary.path);
  t.after(() => server.stop());
  const metrics = createMetrics('recipe-api');
  const redis = new RedisConnection(
    { url: server.url, commandTimeoutMs: 500, connectTimeoutMs: 500, reconnectMaxDelayMs: 200 },
    metrics,
    silentLogger,
  );
  t.after(() => redis.close());
  assert.equal(await redis.waitUntilReady(3000), true);
  const raw = new Redis(server.url);
  raw.on('error', () => {}); // this test kills Redis on purpose
  t.after(() => raw.quit());
  return { server, metrics, redis, raw, cache: new RedisViewCache(redis, 60, metrics) };
}

const view = (id: number) => ({ recipe: seedRecipe(id), userView: { favourite: false, preferredServings: null } });

for (const name of ['index', 'scan'] as const) {
  test(`${name} invalidation removes one user's views and nothing else`, {
    skip: 'skip' in redisBinary && redisBinary.skip,
  }, async (t) => {
    const { metrics, redis, raw, cache } = await setup(t);
    for (let id = 1; id <= 50; id++) {
      await cache.set('alice', id, view(id));
      await cache.set('bob', id, view(id));
    }
    // Unrelated keys that SCAN must walk past.
    await raw.mset(...Array.from({ length: 2000 }, (_, i) => [`other:${i}`, 'x']).flat());
    let chosen: InvalidationStrategyName = name;
    const invalidator = new SwitchableInvalidator(
      { index: new IndexInvalidation(redis), scan: new ScanInvalidation(redis, 100) },
      () => chosen,
      metrics,
    );
    const result = await invalidator.invalidateUser('alice');
    assert.deepEqual(result, { strategy: name, removed: 50 });
    assert.deepEqual(await raw.keys('view:alice:*'), []);
    assert.equal(await raw.exists('view-index:alice'), 0);
    assert.equal((await raw.keys('view:bob:*')).length, 50);
    assert.equal(await cache.get('alice', 7), undefined);
    assert.deepEqual(await cache.get('bob', 7), view(7));
    assert.equal(await metricValue(metrics, 'cache_invalidation_duration_seconds_count', { strategy: name }), 1);
    assert.ok(
      (await metricValue(metrics, 'redis_command_duration_seconds_count', {
        command: name === 'scan' ? 'scan' : 'smembers',
      })) >= 1,
    );

    // The choice is read per call: switching live takes effect at once.
    chosen = name === 'index' ? 'scan' : 'index';
    assert.equal((await invalidator.invalidateUser('bob')).strategy, chosen);
    assert.deepEqual(await raw.keys('view:bob:*'), []);
  });
}

test('cache lookups count hits and misses; user data round-trips', {
  skip: 'skip' in redisBinary && redisBinary.skip,
}, async (t) => {
  const { metrics, redis, cache } = await setup(t);
  assert.equal(await cache.get('carol', 1), undefined);
  await cache.set('carol', 1, view(1));
  assert.deepEqual(await cache.get('carol', 1), view(1));
  assert.equal(await metricValue(metrics, 'cache_lookups_total', { result: 'miss' }), 1);
  assert.equal(await metricValue(metrics, 'cache_lookups_total', { result: 'hit' }), 1);

  const users = new RedisUserData(redis);
  await users.replace('carol', { preferredServings: 6, favourites: [1, 42] });
  assert.deepEqual(await users.viewOf('carol', 42), { favourite: true, preferredServings: 6 });
  await users.replace('carol', { preferredServings: null, favourites: [] });
  assert.deepEqual(await users.viewOf('carol', 42), { favourite: false, preferredServings: null });
});

test('with Redis gone, commands fail fast as DependencyUnavailableError and the client reconnects', {
  skip: 'skip' in redisBinary && redisBinary.skip,
}, async (t) => {
  const { server, metrics, redis, cache } = await setup(t);
  assert.equal(await metricValue(metrics, 'redis_connection_up', {}), 1);
  await server.kill();
  await new Promise((r) => setTimeout(r, 100));
  const start = performance.now();
  await assert.rejects(cache.get('dave', 1), DependencyUnavailableError);
  assert.ok(performance.now() - start < 200, 'fails fast instead of queueing');
  assert.equal(await metricValue(metrics, 'redis_connection_up', {}), 0);
  assert.equal(await metricValue(metrics, 'cache_lookups_total', { result: 'error' }), 1);
  assert.ok(
    (await metricValue(metrics, 'redis_command_duration_seconds_count', { command: 'get', outcome: 'error' })) >= 1,
  );

  await server.start();
  assert.equal(await redis.waitUntilReady(5000), true);
  assert.equal(await cache.get('dave', 1), undefined);
  assert.equal(await metricValue(metrics, 'redis_connection_up', {}), 1);
});
