import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, configTable } from '@recipe-mesh/platform/config';
import { loadWebApiConfig, webApiConfigSchema } from '../src/config.js';

test('defaults follow docs/contracts.md', () => {
  const config = loadWebApiConfig({});
  assert.equal(config.PORT, 3000);
  assert.equal(config.ADMIN_PORT, 9464);
  assert.equal(config.RECIPE_API_URL, 'http://127.0.0.1:4000');
  assert.equal(config.RECIPE_API_GRPC_TARGET, '127.0.0.1:4001');
  assert.equal(config.UPSTREAM_TIMEOUT_MS, 2000);
  assert.equal(config.UPSTREAM_RETRIES, 2);
  assert.equal(config.UPSTREAM_MIN_TRY_MS, 100);
  assert.equal(config.UPSTREAM_DEADLINE_RESERVE_MS, 50);
  assert.equal(config.MENU_CONCURRENCY, 4);
  assert.equal(config.KEEP_ALIVE_TIMEOUT_MS, 5000);
});

test('invalid values stop startup naming each bad variable', () => {
  assert.throws(
    () =>
      loadWebApiConfig({
        RECIPE_API_URL: 'not a url',
        UPSTREAM_TIMEOUT_MS: '0',
        MENU_CONCURRENCY: 'many',
        UPSTREAM_RETRIES: '-1',
      }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems.map((p) => p.variable).sort(), [
        'MENU_CONCURRENCY',
        'RECIPE_API_URL',
        'UPSTREAM_RETRIES',
        'UPSTREAM_TIMEOUT_MS',
      ]);
      return true;
    },
  );
});

test('every key is documented for the README table', () => {
  for (const [key, field] of Object.entries(webApiConfigSchema.shape)) {
    assert.ok((field as { description?: string }).description, `${key} has a description`);
  }
  assert.match(configTable(webApiConfigSchema), /\| `UPSTREAM_TIMEOUT_MS` \| `2000` \|/);
});
