import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '@recipe-mesh/platform/config';
import { loadRecipeApiConfig, recipeApiConfigSchema } from '../src/config.js';

test('defaults follow docs/contracts.md and every key is documented', () => {
  const config = loadRecipeApiConfig({});
  assert.equal(config.PORT, 4000);
  assert.equal(config.GRPC_PORT, 4001);
  assert.equal(config.ADMIN_PORT, 9465);
  assert.equal(config.REDIS_URL, 'redis://127.0.0.1:6379');
  assert.equal(config.INVALIDATION_STRATEGY, 'index');
  assert.equal(config.UPLOAD_MAX_BYTES, 5242880);
  for (const [key, field] of Object.entries(recipeApiConfigSchema.shape))
    assert.ok(field.description, `${key} has no description`);
});

test('invalid values are reported by variable name', () => {
  assert.throws(
    () =>
      loadRecipeApiConfig({
        PORT: 'abc',
        REDIS_URL: 'localhost',
        INVALIDATION_STRATEGY: 'keys',
        STORE_SEED_COUNT: '10',
      }),
    (error: unknown) =>
      error instanceof ConfigError &&
      ['PORT', 'REDIS_URL', 'INVALIDATION_STRATEGY', 'STORE_SEED_COUNT'].every((v) =>
        error.problems.some((p) => p.variable === v),
      ),
  );
  assert.equal(loadRecipeApiConfig({ REDIS_URL: 'none' }).REDIS_URL, 'none');
});
