import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { freePort } from '@recipe-mesh/measure/net';
import { vias } from '../src/upstream/errors.js';
import { maxMenuIds } from '../src/routes/menu.js';
import { GrpcProducerStandIn, HttpProducerStandIn, standInUserView } from './support/producer-stand-ins.js';
import { startWebApi, webApiMain, type ServiceProcess } from './support/web-api-process.js';
import { call } from './support/http.js';

const timeoutMs = 500;

/** How many requests a stand-in saw for one getRecipe over `via`. */
function upstreamCalls(via: string, rest: HttpProducerStandIn, grpcStandIn: GrpcProducerStandIn, id = 42): number {
  if (via === 'grpc') return grpcStandIn.count('GetRecipe');
  if (via === 'graphql') return rest.count('POST', '/graphql');
  return rest.count('GET', `/recipes/${id}`);
}

describe('web-api against producer stand-ins', () => {
  let rest: HttpProducerStandIn;
  let grpcStandIn: GrpcProducerStandIn;
  let web: ServiceProcess;

  before(async () => {
    rest = await new HttpProducerStandIn().start();
    grpcStandIn = await new GrpcProducerStandIn().start();
    web = await startWebApi({
      RECIPE_API_URL: rest.url,
      RECIPE_API_GRPC_TARGET: grpcStandIn.target,
      UPSTREAM_TIMEOUT_MS: String(timeoutMs),
      UPSTREAM_RETRIES: '2',
      MENU_CONCURRENCY: '2',
    });
  });
  after(async () => {
    await web?.stop();
    await rest?.stop();
    await grpcStandIn?.stop();
  });
  beforeEach(() => {
    rest.reset();
    grpcStandIn.reset();
  });

  test('GET /api/recipes/42 answers the recipe with both pids over every via (http by default)', async () => {
    for (const via of [...vias, undefined]) {
      const { status, json } = await call(`${web.url}/api/recipes/42${via ? `?via=${via}` : ''}`);
      assert.equal(status, 200, `via=${via}: ${JSON.stringify(json)}`);
      assert.equal(json.consumer_pid, web.pid);
      assert.equal(json.via, via ?? 'http');
      assert.equal(json.producer.producer_pid, process.pid);
      assert.equal(json.producer.recipe.id, 42, `via=${via}: id is a number whatever the protocol`);
      assert.equal(json.producer.recipe.name, 'Chicken Tikka Masala');
      assert.deepEqual(json.producer.recipe.ingredients[0], { name: 'chicken thigh', quantity: 500, unit: 'g' });
      assert.equal(json.producer.userView, undefined);
    }
    assert.equal(rest.count('GET', '/recipes/42'), 2);
    assert.equal(rest.count('POST', '/graphql'), 1);
    assert.equal(grpcStandIn.count('GetRecipe'), 1);
  });

  test('x-user-id is forwarded over every via and the per-user view comes back', async () => {
    for (const via of vias) {
      const { status, json } = await call(`${web.url}/api/recipes/42?via=${via}`, { headers: { 'x-user-id': 'u-7' } });
      assert.equal(status, 200);
      assert.deepEqual(json.producer.userView, standInUserView, via);
    }
    assert.equal(rest.requests.filter((r) => r.headers['x-user-id'] === 'u-7').length, 2, 'REST and GraphQL');
    assert.equal(grpcStandIn.calls.at(-1)?.userId, 'u-7');
    const bad = await call(`${web.url}/api/recipes/42`, { headers: { 'x-user-id': 'not allowed!' } });
    assert.equal(bad.status, 400);
  });

  test('an unknown recipe is a 404 from every via, with upstream and via in the error', async () => {
    for (const via of vias) {
      const { status, json } = await call(`${web.url}/api/recipes/9999?via=${via}`);
      assert.equal(status, 404, `via=${via}: ${JSON.stringify(json)}`);
      assert.equal(json.error.code, 'NOT_FOUND');
      assert.equal(json.error.upstream, 'recipe-api');
      assert.equal(json.error.via, via);
      assert.match(json.error.message, /9999/);
    }
  });

  test('bad input is a 400/404 JSON answer without calling recipe-api', async () => {
    for (const path of [
      '/api/recipes/abc',
      '/api/recipes/0',
      '/api/recipes/1e3',
      '/api/recipes/42?via=soap',
      '/api/menu',
      '/api/menu?ids=1,,2',
    ]) {
      const { status, json } = await call(`${web.url}${path}`);
      assert.equal(status, 400, path);
      assert.equal(json.error.code, 'VALIDATION_FAILED', path);
      assert.ok(Array.isArray(json.error.details), path);
    }
    const unknown = await call(`${web.url}/api/nothing-here`);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.error.code, 'NOT_FOUND');
    assert.equal(rest.requests.length + grpcStandIn.calls.length, 0);
  });

  test('a slow recipe-api is a 504 JSON answer at the deadline, not retried, over every via', async () => {
    rest.behaviour.delayMs = timeoutMs * 3;
    grpcStandIn.behaviour.delayMs = timeoutMs * 3;
    for (const via of vias) {
      const started = Date.now();
      const { status, json } = await call(`${web.url}/api/recipes/42?via=${via}`);
      const elapsed = Date.now() - started;
      assert.equal(status, 504, `via=${via}: ${JSON.stringify(json)}`);
      assert.deepEqual(
        { code: json.error.code, upstream: json.error.upstream, via: json.error.via },
        { code: 'UPSTREAM_TIMEOUT', upstream: 'recipe-api', via },
      );
      assert.ok(elapsed >= timeoutMs - 20 && elapsed < timeoutMs * 2, `via=${via}: answered after ${elapsed} ms`);
      assert.equal(upstreamCalls(via, rest, grpcStandIn), 1, `via=${via}: a timeout is not retried`);
    }
    const metrics = await (await fetch(`${web.adminUrl}/metrics`)).text();
    for (const via of vias) {
      assert.match(
        metrics,
        new RegExp(
          `upstream_request_duration_seconds_count\\{[^}]*via="${via}",operation="getRecipe",outcome="timeout"\\} 1`,
        ),
      );
    }
    assert.match(
      metrics,
      /grpc_client_handling_seconds_count\{[^}]*grpc_method="GetRecipe",grpc_code="DEADLINE_EXCEEDED"\}/,
    );
  });

  test('GET is retried after 503/UNAVAILABLE (up to UPSTREAM_RETRIES) over every via', async () => {
    for (const via of vias) {
      rest.reset();
      grpcStandIn.reset();
      rest.behaviour.failNext = 2;
      grpcStandIn.behaviour.failNext = 2;
      const ok = await call(`${web.url}/api/recipes/42?via=${via}`);
      assert.equal(ok.status, 200, `via=${via}: ${JSON.stringify(ok.json)}`);
      assert.equal(upstreamCalls(via, rest, grpcStandIn), 3, `via=${via}: two failures, then success`);

      rest.reset();
      grpcStandIn.reset();
      rest.behaviour.failNext = 10;
      grpcStandIn.behaviour.failNext = 10;
      const failed = await call(`${web.url}/api/recipes/42?via=${via}`);
      assert.equal(failed.status, 503, via);
      assert.equal(failed.json.error.code, 'UPSTREAM_UNAVAILABLE');
      assert.equal(failed.json.error.via, via);
      assert.equal(upstreamCalls(via, rest, grpcStandIn), 3, `via=${via}: 1 attempt + 2 retries`);
    }
  });

  test('POST without Idempotency-Key is sent once; with one it is retried and a replay creates nothing new', async () => {
    const recipe = {
      name: 'Dal',
      cuisine: 'indian',
      steps: ['Boil'],
      ingredients: [{ name: 'lentils', quantity: 200, unit: 'g' }],
      servings: 2,
    };
    const recipeWithOwner = { ...recipe, ownerId: 'u-7' };
    for (const via of vias) {
      const count = () =>
        via === 'grpc'
          ? grpcStandIn.count('CreateRecipe')
          : rest.count('POST', via === 'graphql' ? '/graphql' : '/recipes');
      rest.reset();
      grpcStandIn.reset();
      rest.behaviour.failNext = 1;
      grpcStandIn.behaviour.failNext = 1;
      const once = await call(`${web.url}/api/recipes?via=${via}`, { method: 'POST', body: recipeWithOwner });
      assert.equal(once.status, 503, via);
      assert.equal(count(), 1, `${via}: no retry without Idempotency-Key`);

      rest.behaviour.failNext = 1;
      grpcStandIn.behaviour.failNext = 1;
      const key = `key-${via}-${Date.now()}`;
      const created = await call(`${web.url}/api/recipes?via=${via}`, {
        method: 'POST',
        body: recipeWithOwner,
        headers: { 'idempotency-key': key },
      });
      assert.equal(created.status, 201, `${via}: ${JSON.stringify(created.json)}`);
      assert.equal(count(), 3, `${via}: retried once with the key`);
      if (via === 'http') assert.equal(rest.requests.at(-1)?.headers['idempotency-key'], key, 'the key is forwarded');
      assert.equal(created.json.producer.recipe.name, 'Dal');
      assert.equal(created.json.producer.replayed, false);

      const replay = await call(`${web.url}/api/recipes?via=${via}`, {
        method: 'POST',
        body: recipeWithOwner,
        headers: { 'idempotency-key': key },
      });
      assert.equal(replay.status, 200);
      assert.equal(replay.json.producer.replayed, true);
      assert.equal(replay.json.producer.recipe.id, created.json.producer.recipe.id);
      assert.equal(replay.json.producer.producer_pid, process.pid);
    }
  });

  test('idempotencyKeys "per-request": one minted key per client request, the same on the retry', async () => {
    const recipe = {
      name: 'Dal',
      cuisine: 'indian',
      steps: ['Boil'],
      ingredients: [{ name: 'lentils', quantity: 200, unit: 'g' }],
      servings: 2,
      ownerId: 'u-7',
    };
    const put = await fetch(`${web.adminUrl}/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ idempotencyKeys: 'per-request' }),
    });
    assert.equal(put.status, 200);
    try {
      rest.behaviour.failNext = 1;
      const first = await call(`${web.url}/api/recipes?via=http`, { method: 'POST', body: recipe });
      assert.equal(first.status, 201);
      const second = await call(`${web.url}/api/recipes?via=http`, { method: 'POST', body: recipe });
      assert.equal(second.status, 201);
      const keys = rest.requests.filter((r) => r.method === 'POST').map((r) => r.headers['idempotency-key']);
      assert.equal(keys.length, 3, 'the failed attempt was retried: a minted key makes the POST safe to repeat');
      assert.ok(keys[0], 'web-api minted a key');
      assert.equal(keys[1], keys[0], 'the retry carries the same key');
      assert.notEqual(keys[2], keys[0], 'the next client request gets its own key');
    } finally {
      await fetch(`${web.adminUrl}/faults`, { method: 'DELETE' });
    }
  });

  test('POST validation: the shared schema at web-api, one answer per via; 413 over the body limit; 415 without JSON', async () => {
    rest.reset();
    grpcStandIn.reset();
    const answers = [];
    for (const via of vias) {
      for (const body of [{ cuisine: 'x' }, { name: 'x', servings: 'four' }]) {
        const { status, json } = await call(`${web.url}/api/recipes?via=${via}`, { method: 'POST', body });
        assert.equal(status, 400, via);
        answers.push({ via, body, error: json.error });
      }
    }
    // GraphQL input coercion and protobuf would each have rejected these their own way.
    for (const { body, error } of answers) assert.deepEqual(error, answers.find((a) => a.body === body)!.error);
    assert.equal(answers[0]!.error.code, 'VALIDATION_FAILED');
    assert.ok(answers[0]!.error.details.some((d: { path: string }) => d.path === 'name'));
    assert.ok(answers[1]!.error.details.some((d: { path: string }) => d.path === 'servings'));

    const tooLarge = await call(`${web.url}/api/recipes`, {
      method: 'POST',
      body: { name: 'x', steps: ['y'.repeat(70 * 1024)] },
    });
    assert.equal(tooLarge.status, 413);
    assert.equal(tooLarge.json.error.code, 'PAYLOAD_TOO_LARGE');
    const notJson = await call(`${web.url}/api/recipes`, {
      method: 'POST',
      rawBody: 'name=x',
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(notJson.status, 415);
    const broken = await call(`${web.url}/api/recipes`, {
      method: 'POST',
      rawBody: '{"name":',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(broken.status, 400);
    const array = await call(`${web.url}/api/recipes`, { method: 'POST', body: [1] });
    assert.equal(array.status, 400);
    assert.equal(
      rest.count('POST', '/recipes') + rest.count('POST', '/graphql') + grpcStandIn.count('CreateRecipe'),
      0,
    );
  });

  test('GET /api/menu fans out over every via, in order, at most MENU_CONCURRENCY at once', async () => {
    for (const via of vias) {
      const { status, json } = await call(`${web.url}/api/menu?ids=3,42,1,3&via=${via}`);
      assert.equal(status, 200, `via=${via}: ${JSON.stringify(json)}`);
      assert.equal(json.via, via);
      assert.deepEqual(
        json.producers.map((p: { recipe: { id: number } }) => p.recipe.id),
        [3, 42, 1],
      );
      assert.equal(json.producers[1].recipe.name, 'Chicken Tikka Masala');
    }
    rest.reset();
    rest.behaviour.delayMs = 60;
    const ids = [1, 2, 3, 4, 5, 6].join(',');
    const { status } = await call(`${web.url}/api/menu?ids=${ids}`);
    assert.equal(status, 200);
    assert.equal(rest.count('GET', '/recipes/1') + rest.count('GET', '/recipes/6'), 2);
    assert.equal(rest.maxInFlight, 2, 'MENU_CONCURRENCY=2');

    rest.reset();
    const tooMany = await call(
      `${web.url}/api/menu?ids=${Array.from({ length: maxMenuIds + 1 }, (_, i) => i + 1).join(',')}`,
    );
    assert.equal(tooMany.status, 400);
    assert.equal(rest.requests.length, 0);
    const missing = await call(`${web.url}/api/menu?ids=1,9999&via=grpc`);
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.via, 'grpc');
  });

  test('PUT /api/users/:id/preferences forwards to recipe-api over REST only', async () => {
    const { status, json } = await call(`${web.url}/api/users/u-7/preferences`, {
      method: 'PUT',
      body: { servings: 2 },
    });
    assert.equal(status, 200, JSON.stringify(json));
    assert.deepEqual(json.producer, { producer_pid: process.pid, userId: 'u-7', preferences: { servings: 2 } });
    assert.equal(json.via, 'http');
    rest.behaviour.failNext = 1;
    const retried = await call(`${web.url}/api/users/u-7/preferences`, { method: 'PUT', body: { servings: 3 } });
    assert.equal(retried.status, 200, 'PUT is idempotent: retried after a 503');
    assert.equal(rest.count('PUT', '/users/u-7/preferences'), 3);
    const viaGrpc = await call(`${web.url}/api/users/u-7/preferences?via=grpc`, { method: 'PUT', body: {} });
    assert.equal(viaGrpc.status, 400);
  });

  test('app faults from the admin port apply to the API routes only where asked', async () => {
    const put = await fetch(`${web.adminUrl}/faults`, {
      method: 'PUT',
      body: JSON.stringify({ errors: { status: 503, percent: 100, routes: ['/api/menu'] } }),
    });
    assert.equal(put.status, 200);
    try {
      const menu = await call(`${web.url}/api/menu?ids=1`);
      assert.equal(menu.status, 503);
      assert.equal(menu.json.error.code, 'INJECTED_FAULT');
      const recipe = await call(`${web.url}/api/recipes/42`);
      assert.equal(recipe.status, 200);
      assert.equal(rest.count('GET', '/recipes/1'), 0);
    } finally {
      await fetch(`${web.adminUrl}/faults`, { method: 'DELETE' });
    }
  });

  test("the caller's budget (x-request-timeout-ms) ends the call sooner and travels on to the sidecar", async () => {
    rest.behaviour.delayMs = timeoutMs * 3;
    grpcStandIn.behaviour.delayMs = timeoutMs * 3;
    const budgetMs = 200;
    for (const via of vias) {
      const started = Date.now();
      const { status, json } = await call(`${web.url}/api/recipes/42?via=${via}`, {
        headers: { 'x-request-timeout-ms': String(budgetMs) },
      });
      const elapsed = Date.now() - started;
      assert.equal(status, 504, `via=${via}: ${JSON.stringify(json)}`);
      // The default UPSTREAM_DEADLINE_RESERVE_MS (50) is kept for the way back: 150 ms for the call.
      assert.ok(elapsed >= 140 && elapsed < timeoutMs - 100, `via=${via}: answered after ${elapsed} ms`);
      assert.equal(upstreamCalls(via, rest, grpcStandIn), 1, `via=${via}: one try, not retried`);
    }
    const told = rest.requests.map((r) => Number(r.headers['x-envoy-upstream-rq-timeout-ms']));
    assert.equal(told.length, 2, 'REST and GraphQL each sent one request');
    for (const ms of told) assert.ok(ms > 100 && ms <= 150, `the sidecar is told what is left: ${ms} ms`);
  });

  test('without a budget from the caller, web-api tells its sidecar its own deadline', async () => {
    const { status } = await call(`${web.url}/api/recipes/42`);
    assert.equal(status, 200);
    const told = Number(rest.requests[0]?.headers['x-envoy-upstream-rq-timeout-ms']);
    assert.ok(told > timeoutMs - 100 && told <= timeoutMs, `told ${told} ms`);
  });
});

describe('web-api with recipe-api down', () => {
  let web: ServiceProcess;
  before(async () => {
    // Ports that were free a moment ago: nothing listens there.
    web = await startWebApi({
      RECIPE_API_URL: `http://127.0.0.1:${await freePort()}`,
      RECIPE_API_GRPC_TARGET: `127.0.0.1:${await freePort()}`,
    });
  });
  after(() => web?.stop());

  test('answers 503 JSON over every via and stays up and ready', async () => {
    for (const via of vias) {
      const started = Date.now();
      const { status, json } = await call(`${web.url}/api/recipes/42?via=${via}`);
      assert.equal(status, 503, `via=${via}: ${JSON.stringify(json)}`);
      assert.deepEqual(
        { code: json.error.code, upstream: json.error.upstream, via: json.error.via },
        { code: 'UPSTREAM_UNAVAILABLE', upstream: 'recipe-api', via },
      );
      assert.ok(Date.now() - started < 1500, 'a refused connection fails fast, retries included');
    }
    const menu = await call(`${web.url}/api/menu?ids=1,2`);
    assert.equal(menu.status, 503);
    const ready = await fetch(`${web.adminUrl}/readyz`);
    assert.equal(ready.status, 200, 'readiness does not follow recipe-api');
    assert.equal((await fetch(`${web.adminUrl}/livez`)).status, 200);
    const metrics = await (await fetch(`${web.adminUrl}/metrics`)).text();
    assert.match(
      metrics,
      /upstream_request_duration_seconds_count\{[^}]*via="grpc",operation="getRecipe",outcome="unavailable"\} 3/,
    );
  });
});

test('invalid config stops startup with exit code 1, naming each bad variable', () => {
  const result = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', webApiMain], {
    env: { ...process.env, UPSTREAM_TIMEOUT_MS: 'soon', RECIPE_API_URL: 'nowhere', PORT: '0', ADMIN_PORT: '0' },
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(result.status, 1);
  assert.match(result.stderr, /UPSTREAM_TIMEOUT_MS/);
  assert.match(result.stderr, /RECIPE_API_URL/);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
});
