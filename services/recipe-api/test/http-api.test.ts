import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpApp } from '../src/entry-points/rest/app.js';
import { ExportTracker } from '../src/entry-points/rest/export.js';
import { memoryCatalogue, metricValue, silentLogger, validRecipe } from './helpers.js';
import { waitFor } from '@recipe-mesh/measure/net';

async function startApp(
  t: TestContext,
  options: {
    uploadMaxBytes?: number;
    seedCount?: number;
    latencyMs?: number;
    graphqlMaxDepth?: number;
    graphqlMaxCost?: number;
  } = {},
) {
  const deps = memoryCatalogue({ seedCount: options.seedCount, latencyMs: options.latencyMs });
  const exports = new ExportTracker();
  const app = createHttpApp({
    ...deps,
    logger: silentLogger,
    jsonBodyLimitBytes: 4096,
    uploadMaxBytes: options.uploadMaxBytes ?? 10_000,
    graphqlMaxDepth: options.graphqlMaxDepth ?? 6,
    graphqlMaxCost: options.graphqlMaxCost ?? 5000,
    exports,
  });
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { ...deps, exports, base };
}

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

test('GET /recipes/:id answers with producer_pid; bad and missing ids are 400 and 404 JSON', async (t) => {
  const { base } = await startApp(t);
  const ok = await fetch(`${base}/recipes/42`);
  assert.equal(ok.status, 200);
  const body = (await ok.json()) as { producer_pid: number; recipe: { name: string }; userView: unknown };
  assert.equal(body.producer_pid, process.pid);
  assert.equal(body.recipe.name, 'Chicken Tikka Masala');
  assert.equal(ok.headers.get('x-producer-pid'), String(process.pid));

  const bad = await fetch(`${base}/recipes/abc`);
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'VALIDATION_FAILED');
  const missing = await fetch(`${base}/recipes/99999`);
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), { error: { code: 'NOT_FOUND', message: 'recipe 99999 not found' } });
  const badUser = await fetch(`${base}/recipes/42`, { headers: { 'x-user-id': 'a*b' } });
  assert.equal(badUser.status, 400);
  const unknown = await fetch(`${base}/nope`);
  assert.equal(unknown.status, 404);
  assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
});

test('GET /recipes pages with an opaque cursor; a forged cursor is 400', async (t) => {
  const { base } = await startApp(t, { seedCount: 120 });
  const ids: number[] = [];
  let url = `${base}/recipes?limit=50`;
  for (;;) {
    const page = (await (await fetch(url)).json()) as {
      recipes: { id: number }[];
      nextCursor: string | null;
      producer_pid: number;
    };
    assert.equal(page.producer_pid, process.pid);
    ids.push(...page.recipes.map((r) => r.id));
    if (!page.nextCursor) break;
    url = `${base}/recipes?limit=50&cursor=${page.nextCursor}`;
  }
  assert.deepEqual(
    ids,
    Array.from({ length: 120 }, (_, i) => i + 1),
  );
  assert.equal((await fetch(`${base}/recipes?cursor=garbage`)).status, 400);
  assert.equal((await fetch(`${base}/recipes?limit=1000`)).status, 400);
});

test('POST /recipes validates, and an Idempotency-Key replay returns the same recipe once', async (t) => {
  const { base, store } = await startApp(t, { seedCount: 100 });
  const invalid = await fetch(`${base}/recipes`, json({ ...validRecipe, steps: [], extra: 1 }));
  assert.equal(invalid.status, 400);
  const error = ((await invalid.json()) as { error: { code: string; details: { path: string }[] } }).error;
  assert.equal(error.code, 'VALIDATION_FAILED');
  assert.deepEqual(error.details.map((d) => d.path).sort(), ['', 'steps']);
  assert.equal((await fetch(`${base}/recipes`, { ...json(validRecipe), body: '{"name":' })).status, 400);
  assert.equal(
    (await fetch(`${base}/recipes`, { ...json(validRecipe), headers: { 'content-type': 'text/plain' } })).status,
    415,
  );
  assert.equal((await fetch(`${base}/recipes`, json({ ...validRecipe, steps: ['x'.repeat(5000)] }))).status, 413);

  const first = await fetch(`${base}/recipes`, json(validRecipe, { 'idempotency-key': 'k-1' }));
  assert.equal(first.status, 201);
  const firstBody = await first.json();
  const replay = await fetch(`${base}/recipes`, json(validRecipe, { 'idempotency-key': 'k-1' }));
  assert.equal(replay.status, 200);
  assert.equal(replay.headers.get('idempotent-replayed'), 'true');
  assert.deepEqual(await replay.json(), firstBody);
  assert.equal(store.count(), 101);

  const conflict = await fetch(
    `${base}/recipes`,
    json({ ...validRecipe, name: 'Other' }, { 'idempotency-key': 'k-1' }),
  );
  assert.equal(conflict.status, 422);
  assert.equal(((await conflict.json()) as { error: { code: string } }).error.code, 'UNPROCESSABLE');
  assert.equal(store.count(), 101);
});

test('PUT /users/:id/preferences stores the user view', async (t) => {
  const { base } = await startApp(t);
  const put = await fetch(`${base}/users/u-1/preferences`, {
    ...json({ preferredServings: 3, favourites: [42] }),
    method: 'PUT',
  });
  assert.equal(put.status, 200);
  const view = (await (await fetch(`${base}/recipes/42`, { headers: { 'x-user-id': 'u-1' } })).json()) as {
    userView: unknown;
  };
  assert.deepEqual(view.userView, { favourite: true, preferredServings: 3 });
  assert.equal(
    (await fetch(`${base}/users/u-1/preferences`, { ...json({ preferredServings: 0 }), method: 'PUT' })).status,
    400,
  );
});

test('GET /recipes/export streams the whole catalogue as NDJSON', async (t) => {
  const { base } = await startApp(t, { seedCount: 1000 });
  const res = await fetch(`${base}/recipes/export`);
  assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
  const lines = (await res.text())
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { id: number });
  assert.deepEqual(
    lines.map((r) => r.id),
    Array.from({ length: 1000 }, (_, i) => i + 1),
  );
});

/** Reads the first bytes of the export, then drops the connection like a client that went away. */
function abortExportAfterFirstChunk(base: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}/recipes/export`, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
  });
}

test('an aborted export releases its source; with streamCleanup:false it leaks', async (t) => {
  const { base, exports, faults } = await startApp(t, { seedCount: 20_000, latencyMs: 2 });
  await abortExportAfterFirstChunk(base);
  await waitFor(() => exports.open === 0, { what: 'export source released', timeoutMs: 3000 });

  faults.set({ streamCleanup: false });
  await abortExportAfterFirstChunk(base);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(exports.open, 1, 'the paused source is never released');
});

function multipart(size: number, field = 'photo') {
  const boundary = '----recipe-mesh-test';
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="p.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return {
    body: Buffer.concat([head, Buffer.alloc(size, 7), tail]),
    type: `multipart/form-data; boundary=${boundary}`,
  };
}

test('photo uploads are hashed while streamed, 413 over the limit, unlimited under the fault', async (t) => {
  const { base, faults } = await startApp(t, { uploadMaxBytes: 10_000 });
  const small = multipart(5000);
  const ok = await fetch(`${base}/recipes/42/photo`, {
    method: 'POST',
    headers: { 'content-type': small.type },
    body: small.body,
  });
  assert.equal(ok.status, 201);
  const photo = ((await ok.json()) as { photo: { bytes: number; sha256: string; recipeId: number } }).photo;
  assert.equal(photo.bytes, 5000);
  assert.equal(photo.recipeId, 42);
  assert.match(photo.sha256, /^[0-9a-f]{64}$/);

  const big = multipart(12_000);
  const tooBig = await fetch(`${base}/recipes/42/photo`, {
    method: 'POST',
    headers: { 'content-type': big.type },
    body: big.body,
  });
  assert.equal(tooBig.status, 413);
  assert.equal(((await tooBig.json()) as { error: { code: string } }).error.code, 'PAYLOAD_TOO_LARGE');
  assert.equal(
    (
      await fetch(`${base}/recipes/99999/photo`, {
        method: 'POST',
        headers: { 'content-type': big.type },
        body: big.body,
      })
    ).status,
    404,
  );
  assert.equal((await fetch(`${base}/recipes/42/photo`, json({}))).status, 415);

  faults.set({ uploadLimits: false });
  const unlimited = await fetch(`${base}/recipes/42/photo`, {
    method: 'POST',
    headers: { 'content-type': big.type },
    body: big.body,
  });
  assert.equal(unlimited.status, 201);
  assert.equal(((await unlimited.json()) as { photo: { bytes: number } }).photo.bytes, 12_000);
  // Both receiving strategies digest the same bytes: only where they hold them differs.
  const buffered = await fetch(`${base}/recipes/42/photo`, {
    method: 'POST',
    headers: { 'content-type': small.type },
    body: small.body,
  });
  assert.equal(((await buffered.json()) as { photo: { sha256: string } }).photo.sha256, photo.sha256);
});

test('injected faults answer on the traffic port with the configured status', async (t) => {
  const { base, faults } = await startApp(t);
  faults.set({ errors: { status: 503, percent: 100, routes: ['/recipes'] } });
  const res = await fetch(`${base}/recipes/42`);
  assert.equal(res.status, 503);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'INJECTED_FAULT');
});

const gql = (base: string, query: string, variables?: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}/graphql`, json({ query, variables }, headers)).then(async (r) => ({
    status: r.status,
    body: (await r.json()) as {
      data?: any;
      errors?: { extensions: { code: string } }[];
      extensions?: { producer_pid: number };
    },
  }));

test('GraphQL: queries, connection paging, idempotent mutation, and error codes', async (t) => {
  const { base, store, metrics } = await startApp(t, { seedCount: 100, graphqlMaxDepth: 4, graphqlMaxCost: 2000 });
  const one = await gql(base, '{ recipe(id: 42) { id name } }');
  assert.deepEqual(one.body.data, { recipe: { id: 42, name: 'Chicken Tikka Masala' } });
  assert.equal(one.body.extensions?.producer_pid, process.pid);

  const page1 = await gql(
    base,
    'query List($after: String) { recipes(first: 60, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }',
  );
  assert.equal(page1.body.data?.recipes.edges.length, 60, JSON.stringify(page1.body));
  assert.equal(page1.body.data.recipes.pageInfo.hasNextPage, true);
  const page2 = await gql(
    base,
    'query List($after: String) { recipes(first: 60, after: $after) { edges { node { id } } pageInfo { hasNextPage } } }',
    { after: page1.body.data.recipes.pageInfo.endCursor },
  );
  assert.equal(page2.body.data.recipes.edges[0].node.id, 61);
  assert.equal(page2.body.data.recipes.pageInfo.hasNextPage, false);

  const create = 'mutation C($input: CreateRecipeInput!) { createRecipe(input: $input) { recipe { id } replayed } }';
  const input = { ...validRecipe, idempotencyKey: 'g-1' };
  const created = await gql(base, create, { input });
  const replayed = await gql(base, create, { input });
  assert.equal(created.body.data.createRecipe.replayed, false);
  assert.deepEqual(replayed.body.data.createRecipe, { recipe: created.body.data.createRecipe.recipe, replayed: true });
  assert.equal(store.count(), 101);

  const codeOf = (r: Awaited<ReturnType<typeof gql>>) => r.body.errors?.[0]?.extensions.code;
  assert.equal(codeOf(await gql(base, '{ recipe(id: 99999) { id } }')), 'NOT_FOUND');
  assert.equal(codeOf(await gql(base, '{ recipe(id: -1) { id } }')), 'VALIDATION_FAILED');
  assert.equal(
    codeOf(await gql(base, create, { input: { ...input, idempotencyKey: undefined, steps: [] } })),
    'VALIDATION_FAILED',
  );
  assert.equal(codeOf(await gql(base, create, { input: { ...input, name: 'Other' } })), 'UNPROCESSABLE');
  assert.equal(codeOf(await gql(base, '{ recipe(id: 1) { nope } }')), 'GRAPHQL_VALIDATION_FAILED');
  // Variables that do not coerce to their declared types are the caller's fault, not a 500.
  const { cuisine: _dropped, ...withoutCuisine } = input;
  const missingVariable = await gql(base, create, { input: withoutCuisine });
  assert.equal(codeOf(missingVariable), 'BAD_REQUEST', JSON.stringify(missingVariable.body));
  assert.equal(codeOf(await gql(base, '{ recipes { edges { node { ingredients { name } } } } }')), 'QUERY_TOO_DEEP');
  const twoPages = ['a', 'b'].map(
    (a) => `${a}: recipes(first: 100, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } }`,
  );
  assert.equal(codeOf(await gql(base, `query Many($after: String) { ${twoPages.join(' ')} }`)), 'QUERY_TOO_COMPLEX');
  assert.ok(
    (await metricValue(metrics, 'graphql_operation_duration_seconds_count', {
      operation_name: 'C',
      operation_type: 'mutation',
      outcome: 'success',
    })) >= 2,
  );
  assert.ok((await metricValue(metrics, 'graphql_operation_duration_seconds_count', { outcome: 'error' })) >= 1);
});

test('the REST contract as published: 405 with Allow, blank headers, free text, one photo part', async (t) => {
  const { base } = await startApp(t);
  // A documented path asked with another method: 405 naming the methods the document lists.
  const trace = await fetch(`${base}/recipes/export`, { method: 'DELETE' });
  assert.equal(trace.status, 405);
  assert.equal(trace.headers.get('allow'), 'GET, HEAD');
  assert.equal(((await trace.json()) as { error: { code: string } }).error.code, 'METHOD_NOT_ALLOWED');
  assert.equal((await fetch(`${base}/recipes/7`, { method: 'PUT' })).headers.get('allow'), 'GET, HEAD');
  assert.equal((await fetch(`${base}/nowhere`, { method: 'DELETE' })).status, 404);

  // Empty x-user-id and Idempotency-Key are published as "absent".
  const anonymous = await fetch(`${base}/recipes/42`, { headers: { 'x-user-id': '' } });
  assert.equal(anonymous.status, 200);
  assert.equal(((await anonymous.json()) as { userView: unknown }).userView, null);
  assert.equal((await fetch(`${base}/recipes`, json(validRecipe, { 'idempotency-key': '' }))).status, 201);

  // Free text needs a character trimming keeps, and its length is counted in code points.
  const blankStep = await fetch(`${base}/recipes`, json({ ...validRecipe, steps: ['\u00a0\n'] }));
  assert.equal(blankStep.status, 400);
  const astral = await fetch(`${base}/recipes`, json({ ...validRecipe, name: '🍲'.repeat(120) }));
  assert.equal(astral.status, 201, 'the documented maxLength (120 characters) is what is accepted');
  assert.equal((await fetch(`${base}/recipes`, json({ ...validRecipe, name: '🍲'.repeat(121) }))).status, 400);

  // An upload is one file part named "photo": another name or an extra field is a 400.
  for (const body of [multipart(100, 'file'), withField(multipart(100), 'note')]) {
    const answer = await fetch(`${base}/recipes/42/photo`, {
      method: 'POST',
      headers: { 'content-type': body.type },
      body: body.body,
    });
    assert.equal(answer.status, 400);
    assert.equal(((await answer.json()) as { error: { code: string } }).error.code, 'VALIDATION_FAILED');
  }
});

/** `upload` with a text field in front of its file part. */
function withField(upload: ReturnType<typeof multipart>, name: string) {
  const boundary = /boundary=(.+)$/.exec(upload.type)![1];
  const field = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\nhello\r\n`);
  return { body: Buffer.concat([field, upload.body]), type: upload.type };
}
