import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Health } from '@recipe-mesh/platform/health';
import { assertFound, requireBinary } from '@recipe-mesh/measure/binaries';
import { waitFor } from '@recipe-mesh/measure/net';
import {
  bindGrpcServer,
  createGrpcServer,
  recipeServiceName,
  stopGrpcServer,
} from '../src/entry-points/grpc/server.js';
import { memoryCatalogue, silentLogger } from './helpers.js';

// Tools nobody here wrote, built from the Go module proxy (.ci/run): they know the API only through
// server reflection, so these tests fail if reflection is missing or describes the wrong contract.
const grpcurl = requireBinary('grpcurl');
const healthProbe = requireBinary('grpc-health-probe');
const run = promisify(execFile);

async function startGrpc(t: TestContext) {
  const deps = memoryCatalogue({ seedCount: 100 });
  const health = new Health();
  const grpcServer = createGrpcServer({ ...deps, logger: silentLogger, health, maxRequestBytes: 65_536 });
  const port = await bindGrpcServer(grpcServer.server, '127.0.0.1', 0);
  t.after(() => stopGrpcServer(grpcServer.server, 1000));
  return { health, grpcServer, address: `127.0.0.1:${port}` };
}

/** Runs a tool to completion (async: the server under test lives in this process). */
async function tool(binary: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(binary, args, { timeout: 15_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw error;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

test('grpcurl lists, describes and calls RecipeService through server reflection', {
  skip: 'skip' in grpcurl ? grpcurl.skip : false,
}, async (t) => {
  assertFound(grpcurl);
  const { address } = await startGrpc(t);
  const curl = (...args: string[]) => tool(grpcurl.path, ['-plaintext', ...args]);

  const list = await curl(address, 'list');
  assert.equal(list.code, 0, list.stderr);
  const services = list.stdout.trim().split('\n');
  assert.ok(services.includes(recipeServiceName), list.stdout);
  assert.ok(services.includes('grpc.health.v1.Health'), list.stdout);

  const described = await curl(address, 'describe', recipeServiceName);
  assert.equal(described.code, 0, described.stderr);
  for (const rpc of [
    /rpc GetRecipe \( \.recipes\.v1\.GetRecipeRequest \) returns \( \.recipes\.v1\.GetRecipeResponse \)/,
    /rpc ListRecipes \( \.recipes\.v1\.ListRecipesRequest \) returns \( stream \.recipes\.v1\.Recipe \)/,
    /rpc CreateRecipe \( \.recipes\.v1\.CreateRecipeRequest \) returns \( \.recipes\.v1\.CreateRecipeResponse \)/,
  ]) {
    assert.match(described.stdout, rpc);
  }
  const message = await curl(address, 'describe', 'recipes.v1.CreateRecipeRequest');
  assert.match(message.stdout, /string idempotency_key = 7;/);

  const got = await curl('-d', '{"id": 42}', address, `${recipeServiceName}/GetRecipe`);
  assert.equal(got.code, 0, got.stderr);
  // Reflection publishes the descriptors protoc produced, json_name included, so grpcurl prints
  // the proto3 JSON names (`producerPid`), as it does for any protoc-compiled server.
  const body = JSON.parse(got.stdout) as { recipe: { id: string; name: string }; producerPid: number };
  assert.equal(body.recipe.id, '42');
  assert.equal(body.recipe.name, 'Chicken Tikka Masala');
  assert.equal(body.producerPid, process.pid);

  const streamed = await curl('-d', '{"limit": 3, "after_id": 10}', address, `${recipeServiceName}/ListRecipes`);
  assert.equal(streamed.code, 0, streamed.stderr);
  assert.deepEqual(
    [...streamed.stdout.matchAll(/"id": "(\d+)"/g)].map((m) => m[1]),
    ['11', '12', '13'],
  );

  // grpcurl prints the status and exits 64 + code for a failed call.
  const invalid = await curl('-d', '{"id": 0}', address, `${recipeServiceName}/GetRecipe`);
  assert.equal(invalid.code, 64 + 3, invalid.stderr);
  assert.match(invalid.stderr, /Code: InvalidArgument/);
  const missing = await curl('-d', '{"id": 99999}', address, `${recipeServiceName}/GetRecipe`);
  assert.equal(missing.code, 64 + 5, missing.stderr);
  assert.match(missing.stderr, /Code: NotFound/);
});

test('grpc-health-probe follows readiness, overall and per service', {
  skip: 'skip' in healthProbe ? healthProbe.skip : false,
}, async (t) => {
  assertFound(healthProbe);
  const { address, health, grpcServer } = await startGrpc(t);
  const probe = (service: string) =>
    tool(healthProbe.path, ['-addr', address, '-service', service, '-connect-timeout', '5s']);
  // grpc-health-probe exits 4 for NOT_SERVING (its documented exit codes), 0 for SERVING.
  assert.equal((await probe('')).code, 4);
  health.markStarted();
  await grpcServer.syncHealth();
  assert.equal((await probe('')).code, 0);
  assert.equal((await probe(recipeServiceName)).code, 0);
  health.setForcedUnready(true);
  // Readiness changes reach grpc.health.v1 through a listener: poll rather than assume it is instant.
  await waitFor(async () => (await probe(recipeServiceName)).code === 4, { what: 'NOT_SERVING from the probe' });
});
