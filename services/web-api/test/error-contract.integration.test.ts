import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { freePort } from '@recipe-mesh/measure/net';
import type { CodedError } from '@recipe-mesh/platform/error-contract';
import { vias, type Via } from '../src/upstream/errors.js';
import { call, type JsonAnswer } from './support/http.js';
import { ScriptedProducer, type Script } from './support/scripted-producer.js';
import { startMain, startWebApi, type ServiceProcess } from './support/web-api-process.js';

/**
 * The error contract as a matrix: every web-api operation × every via it offers × every error
 * recipe-api can return for it answers one public answer (status and the whole error body, so
 * code, message and details), whichever protocol carried it (platform/error-contract.ts).
 *
 * `real` cells run against the real recipe-api (its main.ts, its Redis down, a 2 KiB body limit so a
 * body web-api accepts can be too large there) provoked by its fault document; `fake` cells run
 * against ScriptedProducer, only for answers the real one cannot be made to give through web-api
 * (said at each).
 */

const recipeApiMain = fileURLToPath(new URL('../../recipe-api/src/main.ts', import.meta.url));
const recipeApiBodyLimit = 2048;
const upstreamTimeoutMs = 1000;

type Operation = 'getRecipe' | 'getMenu' | 'createRecipe' | 'setPreferences' | 'exportRecipes';
/** Operations over every via; the others exist only over REST at recipe-api (via=http). */
const viasOf: Record<Operation, readonly Via[]> = {
  getRecipe: vias,
  getMenu: vias,
  createRecipe: vias,
  setPreferences: ['http'],
  exportRecipes: ['http'],
};

const recipe = (name: string, steps = ['Boil']) => ({
  name,
  cuisine: 'french',
  ownerId: 'chef-1',
  servings: 2,
  ingredients: [{ name: 'leek', quantity: 1 }],
  steps,
});
const json = (method: string, body: unknown, headers: Record<string, string> = {}) => ({ method, body, headers });

/** The usual request of each operation. */
function send(base: string, operation: Operation, via: Via, init: Parameters<typeof call>[1] = {}, id = 42) {
  const paths: Record<Operation, string> = {
    getRecipe: `/api/recipes/${id}`,
    getMenu: `/api/menu?ids=1,${id}`,
    createRecipe: '/api/recipes',
    setPreferences: '/api/users/u-matrix/preferences',
    exportRecipes: '/api/recipes/export',
  };
  const path = paths[operation];
  const defaults: Record<Operation, Parameters<typeof call>[1]> = {
    getRecipe: {},
    getMenu: {},
    createRecipe: json('POST', recipe('Soup')),
    setPreferences: json('PUT', { preferredServings: 2, favourites: [1] }),
    exportRecipes: {},
  };
  return call(`${base}${path}${path.includes('?') ? '&' : '?'}via=${via}`, { ...defaults[operation], ...init });
}

interface Expected {
  status: number;
  error: Record<string, unknown>;
}
/** A failure of recipe-api passed on: the body names the upstream and the via. */
const relayed = (via: Via, status: number, error: Omit<CodedError, 'code'> & { code: string }): Expected => ({
  status,
  error: { ...error, upstream: 'recipe-api', via },
});
const unavailable = (via: Via) =>
  relayed(via, 503, { code: 'UPSTREAM_UNAVAILABLE', message: 'recipe-api is unavailable' });
const timedOut = (via: Via) =>
  relayed(via, 504, { code: 'UPSTREAM_TIMEOUT', message: 'recipe-api did not answer in time' });
const badAnswer = (via: Via) =>
  relayed(via, 502, { code: 'UPSTREAM_ERROR', message: 'unexpected answer from recipe-api' });
const tooLarge = (via: Via) => relayed(via, 413, { code: 'PAYLOAD_TOO_LARGE', message: 'request body too large' });
const blankName = [{ path: 'name', message: 'must not be blank' }];

interface Cell {
  operation: Operation;
  /** `real`: the real recipe-api answers; `fake`: ScriptedProducer does (why: at the row). */
  upstream: 'real' | 'fake';
  send(base: string, via: Via): Promise<JsonAnswer>;
  expected(via: Via): Expected;
}

interface ErrorRow {
  error: string;
  /** recipe-api's fault document while the row runs (real cells). */
  faults?: object;
  /** ScriptedProducer's answer while the row runs (fake cells). */
  script?: Script;
  cells: Cell[];
}

/** Cells sending each operation's usual request. */
const usualRequests = (operations: readonly Operation[], upstream: Cell['upstream'], expected: Cell['expected']) =>
  operations.map(
    (operation): Cell => ({ operation, upstream, send: (base, via) => send(base, operation, via), expected }),
  );

const everyOperation = Object.keys(viasOf) as Operation[];
const jsonOperations: Operation[] = ['getRecipe', 'getMenu', 'createRecipe', 'setPreferences'];

const matrix: ErrorRow[] = [
  {
    error: 'not found',
    cells: (['getRecipe', 'getMenu'] as const).map((operation) => ({
      operation,
      upstream: 'real',
      send: (base, via) => send(base, operation, via, {}, 999_999),
      expected: (via) => relayed(via, 404, { code: 'NOT_FOUND', message: 'recipe 999999 not found' }),
    })),
  },
  {
    error: 'validation (web-api checks the recipe with the schema recipe-api applies, before any via)',
    cells: [
      {
        operation: 'createRecipe',
        upstream: 'real',
        send: (base, via) => send(base, 'createRecipe', via, json('POST', recipe(' '))),
        expected: () => ({
          status: 400,
          error: { code: 'VALIDATION_FAILED', message: 'invalid recipe', details: blankName },
        }),
      },
    ],
  },
  {
    error: 'validation (recipe-api)',
    cells: [
      {
        operation: 'setPreferences',
        upstream: 'real',
        send: (base, via) => send(base, 'setPreferences', via, json('PUT', { preferredServings: 0 })),
        expected: (via) =>
          relayed(via, 400, {
            code: 'VALIDATION_FAILED',
            message: 'invalid preferences',
            details: [{ path: 'preferredServings', message: 'Too small: expected number to be >=1' }],
          }),
      },
    ],
  },
  {
    // Fake: web-api validates ids and recipes with recipe-api's own rules first, so the real one
    // never sees input it would reject; this is the answer should the two ever disagree.
    error: 'validation (recipe-api, on input web-api already checked)',
    script: { kind: 'coded', code: 'VALIDATION_FAILED', message: 'invalid recipe', details: blankName },
    cells: usualRequests(['getRecipe', 'getMenu', 'createRecipe'], 'fake', (via) =>
      relayed(via, 400, { code: 'VALIDATION_FAILED', message: 'invalid recipe', details: blankName }),
    ),
  },
  {
    error: 'idempotency conflict',
    cells: [
      {
        operation: 'createRecipe',
        upstream: 'real',
        async send(base, via) {
          const headers = { 'idempotency-key': `matrix-${via}-${process.pid}` };
          const first = await send(base, 'createRecipe', via, json('POST', recipe('Soup A'), headers));
          assert.equal(first.status, 201, JSON.stringify(first.json));
          return send(base, 'createRecipe', via, json('POST', recipe('Soup B'), headers));
        },
        expected: (via) =>
          relayed(via, 422, {
            code: 'UNPROCESSABLE',
            message: 'Idempotency-Key was already used with a different request body',
            details: { idempotencyKey: `matrix-${via}-${process.pid}` },
          }),
      },
    ],
  },
  {
    // Under web-api's 64 KiB, over recipe-api's 2 KiB on every protocol (REST and /graphql bodies,
    // gRPC messages).
    error: 'payload too large',
    cells: [
      {
        operation: 'createRecipe',
        upstream: 'real',
        send: (base, via) =>
          send(base, 'createRecipe', via, json('POST', recipe('Big soup', Array(10).fill('stir '.repeat(80))))),
        expected: tooLarge,
      },
      {
        operation: 'setPreferences',
        upstream: 'real',
        send: (base, via) =>
          send(
            base,
            'setPreferences',
            via,
            json('PUT', { favourites: Array.from({ length: 500 }, (_, i) => 1_000_000 + i) }),
          ),
        expected: tooLarge,
      },
    ],
  },
  {
    error: 'unsupported media type (the caller’s body, checked by web-api)',
    cells: (['createRecipe', 'setPreferences'] as const).map((operation) => ({
      operation,
      upstream: 'real',
      send: (base, via) =>
        send(base, operation, via, {
          method: operation === 'createRecipe' ? 'POST' : 'PUT',
          rawBody: 'name=Soup',
          headers: { 'content-type': 'text/plain' },
        }),
      expected: () => ({
        status: 415,
        error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'body must be application/json' },
      }),
    })),
  },
  {
    // Fake: web-api always sends recipe-api JSON. If recipe-api refused it, web-api built the
    // request wrong, which its caller cannot fix: a 502, the same on every via.
    error: 'unsupported media type (recipe-api refusing web-api’s request)',
    script: { kind: 'coded', code: 'UNSUPPORTED_MEDIA_TYPE', message: 'body must be application/json' },
    cells: usualRequests(jsonOperations, 'fake', badAnswer),
  },
  {
    error: 'timeout',
    faults: { latency: { ms: upstreamTimeoutMs * 2 } },
    cells: usualRequests(everyOperation, 'real', timedOut),
  },
  {
    error: 'unavailable (503 on every protocol)',
    faults: { errors: { status: 503 } },
    cells: usualRequests(everyOperation, 'real', unavailable),
  },
  {
    // recipe-api's Redis is a port nobody listens on: reads degrade to the store, but preferences
    // live only in Redis and cannot be stored (recipe-catalogue.ts).
    error: 'unavailable (recipe-api’s own UNAVAILABLE)',
    cells: usualRequests(['setPreferences'], 'real', unavailable),
  },
  {
    // Fake: the real recipe-api always answers its contract.
    error: 'an answer web-api cannot parse',
    script: { kind: 'unparseable' },
    cells: usualRequests(everyOperation, 'fake', badAnswer),
  },
];

describe('one public answer per error, whichever via carried it', () => {
  let recipeApi: ServiceProcess;
  let webReal: ServiceProcess;
  let webFake: ServiceProcess;
  const fake = new ScriptedProducer();
  const webEnv = { UPSTREAM_TIMEOUT_MS: String(upstreamTimeoutMs) };

  before(async () => {
    const [grpcPort, deadRedisPort] = [await freePort(), await freePort()];
    recipeApi = await startMain(recipeApiMain, {
      REDIS_URL: `redis://127.0.0.1:${deadRedisPort}`,
      GRPC_PORT: String(grpcPort),
      JSON_BODY_LIMIT_BYTES: String(recipeApiBodyLimit),
    });
    webReal = await startWebApi({
      ...webEnv,
      RECIPE_API_URL: recipeApi.url,
      RECIPE_API_GRPC_TARGET: `127.0.0.1:${grpcPort}`,
    });
    await fake.start();
    webFake = await startWebApi({ ...webEnv, RECIPE_API_URL: fake.url, RECIPE_API_GRPC_TARGET: fake.grpcTarget });
  });
  after(async () => {
    await webFake?.stop();
    await webReal?.stop();
    await recipeApi?.stop();
    await fake.stop();
  });

  const setFaults = async (doc: object | undefined) => {
    const answer = await fetch(`${recipeApi.adminUrl}/faults`, {
      method: doc ? 'PUT' : 'DELETE',
      ...(doc ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(doc) } : {}),
    });
    assert.equal(answer.status, 200, await answer.text());
  };

  for (const row of matrix) {
    describe(row.error, () => {
      before(async () => {
        if (row.faults) await setFaults(row.faults);
        if (row.script) fake.script = row.script;
      });
      after(async () => {
        if (row.faults) await setFaults(undefined);
      });
      for (const cell of row.cells) {
        for (const via of viasOf[cell.operation]) {
          test(`${cell.operation} via=${via} (${cell.upstream} recipe-api)`, async () => {
            const web = cell.upstream === 'real' ? webReal : webFake;
            const answer = await cell.send(web.url, via);
            assert.deepEqual({ status: answer.status, error: answer.json.error }, cell.expected(via));
          });
        }
      }
    });
  }

  test('operations that exist only over REST refuse the other vias without calling recipe-api', async () => {
    for (const operation of everyOperation.filter((o) => viasOf[o].length === 1)) {
      for (const via of vias.filter((v) => v !== 'http')) {
        const answer = await send(webReal.url, operation, via);
        assert.equal(answer.status, 400, `${operation} via=${via}`);
        assert.equal(answer.json.error.code, 'VALIDATION_FAILED');
      }
    }
  });
});
