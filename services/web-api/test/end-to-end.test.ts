import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { assertFound, requireBinary } from '@recipe-mesh/measure/binaries';
import { freePort } from '@recipe-mesh/measure/net';
import { startRedis, type RedisProcess } from '@recipe-mesh/measure/redis-server';
import { vias } from '../src/upstream/errors.js';
import { startMain, startWebApi, type ServiceProcess } from './support/web-api-process.js';
import { call } from './support/http.js';

const recipeApiMain = fileURLToPath(new URL('../../recipe-api/src/main.ts', import.meta.url));
const redisBinary = requireBinary('redis-server');
const skip =
  'skip' in redisBinary
    ? redisBinary.skip
    : existsSync(recipeApiMain)
      ? false
      : 'services/recipe-api/src/main.ts not found';

/** Both real services and a real Redis: web-api → recipe-api → Redis over each protocol. */
describe('web-api → recipe-api → Redis', { skip }, () => {
  let redis: RedisProcess;
  let recipeApi: ServiceProcess;
  let web: ServiceProcess;

  before(async () => {
    assertFound(redisBinary);
    redis = await startRedis(redisBinary.path);
    const grpcPort = await freePort();
    recipeApi = await startMain(recipeApiMain, { REDIS_URL: redis.url, GRPC_PORT: String(grpcPort) });
    web = await startWebApi({
      RECIPE_API_URL: recipeApi.url,
      RECIPE_API_GRPC_TARGET: `127.0.0.1:${grpcPort}`,
    });
  });
  after(async () => {
    await web?.stop();
    await recipeApi?.stop();
    await redis?.stop();
  });

  test('GET /api/recipes/42 is Chicken Tikka Masala with both pids over every via', async () => {
    for (const via of vias) {
      const { status, json } = await call(`${web.url}/api/recipes/42?via=${via}`);
      assert.equal(status, 200, `via=${via}: ${JSON.stringify(json)}`);
      assert.equal(json.producer.recipe.name, 'Chicken Tikka Masala', via);
      assert.equal(json.producer.recipe.id, 42, via);
      assert.equal(json.consumer_pid, web.pid, via);
      assert.equal(json.producer.producer_pid, recipeApi.pid, via);
    }
  });

  test('the per-user view, a replayed POST and a 404 behave the same through the real producer', async () => {
    for (const via of vias) {
      const view = await call(`${web.url}/api/recipes/42?via=${via}`, { headers: { 'x-user-id': 'u-e2e' } });
      assert.equal(view.status, 200, `via=${via}: ${JSON.stringify(view.json)}`);
      assert.equal(typeof view.json.producer.userView?.favourite, 'boolean', `via=${via} has the user's view`);

      const missing = await call(`${web.url}/api/recipes/999999?via=${via}`);
      assert.equal(missing.status, 404, `via=${via}: ${JSON.stringify(missing.json)}`);
      assert.deepEqual(
        { upstream: missing.json.error.upstream, via: missing.json.error.via },
        { upstream: 'recipe-api', via },
      );

      const recipe = {
        name: `E2E ${via}`,
        cuisine: 'test',
        steps: ['Mix'],
        ingredients: [{ name: 'flour', quantity: 1, unit: 'kg' }],
        ownerId: 'u-e2e',
      };
      const headers = { 'idempotency-key': `e2e-${via}-${process.pid}` };
      const first = await call(`${web.url}/api/recipes?via=${via}`, { method: 'POST', body: recipe, headers });
      assert.equal(first.status, 201, `via=${via}: ${JSON.stringify(first.json)}`);
      const replay = await call(`${web.url}/api/recipes?via=${via}`, { method: 'POST', body: recipe, headers });
      assert.equal(replay.status, 200, `via=${via}: ${JSON.stringify(replay.json)}`);
      assert.equal(replay.json.producer.replayed, true);
      assert.equal(replay.json.producer.recipe.id, first.json.producer.recipe.id, `via=${via}: one recipe for one key`);

      // Well-formed for every protocol (GraphQL's input type included), invalid in content.
      const invalid = await call(`${web.url}/api/recipes?via=${via}`, {
        method: 'POST',
        body: { ...recipe, name: '' },
      });
      assert.equal(invalid.status, 400, `via=${via}: ${JSON.stringify(invalid.json)}`);
      assert.equal(invalid.json.error.code, 'VALIDATION_FAILED', via);
    }
  });
});
