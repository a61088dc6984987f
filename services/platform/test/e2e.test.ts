/**
 * Issue 3 item 7 end to end: real Redis + recipe-api + web-api started the way they run in
 * development (`--import @recipe-mesh/platform/telemetry`), exporting to an OTLP receiver inside
 * the test. For each `via` one connected trace covers web-api server span → client span →
 * recipe-api server span → Redis span; a failing call records its error; both services' /metrics
 * carry exemplars of collected traces; and SIGTERM under load drains both without losing requests.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { requireBinary } from '@recipe-mesh/measure/binaries';
import { startRedis, type RedisProcess } from '@recipe-mesh/measure/redis-server';
import { freePort } from '@recipe-mesh/measure/net';
import {
  startOtlpReceiver,
  formatTrace,
  type OtlpReceiver,
  type CollectedSpan,
} from '@recipe-mesh/measure/otlp-receiver';
import { startService, type ServiceProcess } from './helpers/service-process.js';
import { repoRoot } from '@recipe-mesh/measure/repo';
import { parseScrape } from '@recipe-mesh/measure/metric-text';
import { shutdownUnderLoad } from './helpers/shutdown-under-load.js';

const recipeApiEntry = 'services/recipe-api/src/main.ts';
const webApiEntry = 'services/web-api/src/main.ts';
const redisBinary = requireBinary('redis-server');
const skip =
  'skip' in redisBinary
    ? redisBinary.skip
    : [recipeApiEntry, webApiEntry].every((e) => existsSync(path.join(repoRoot, e)))
      ? false
      : 'recipe-api or web-api main.ts not written yet';
const drainDelayMs = 700;

let redis: RedisProcess;
let receiver: OtlpReceiver;
let recipeApi: ServiceProcess;
let webApi: ServiceProcess;

before(async () => {
  if (skip || 'skip' in redisBinary) return;
  redis = await startRedis(redisBinary.path);
  receiver = await startOtlpReceiver();
  const common = {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_BSP_SCHEDULE_DELAY: '100',
    SHUTDOWN_DRAIN_DELAY_MS: String(drainDelayMs),
    SHUTDOWN_TIMEOUT_MS: '3000',
  };
  const grpcPort = await freePort();
  recipeApi = await startService({
    name: 'recipe-api',
    entry: recipeApiEntry,
    httpPort: await freePort(),
    adminPort: await freePort(),
    // recipe-api exports with the SDK default protocol (http/protobuf), web-api with http/json:
    // the receiver decodes both, so both settings of OTEL_EXPORTER_OTLP_PROTOCOL are exercised.
    env: {
      ...common,
      OTEL_SERVICE_NAME: 'recipe-api',
      GRPC_PORT: String(grpcPort),
      REDIS_URL: redis.url,
      STORE_SEED_COUNT: '200',
    },
  });
  webApi = await startService({
    name: 'web-api',
    entry: webApiEntry,
    httpPort: await freePort(),
    adminPort: await freePort(),
    env: {
      ...common,
      OTEL_SERVICE_NAME: 'web-api',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      RECIPE_API_URL: recipeApi.httpUrl,
      RECIPE_API_GRPC_TARGET: `127.0.0.1:${grpcPort}`,
    },
  });
});

after(async () => {
  await webApi?.kill();
  await recipeApi?.kill();
  await receiver?.close();
  await redis?.stop();
});

const newTraceId = () => randomBytes(16).toString('hex');
const show = (traceId: string) => `\n${formatTrace(receiver.tree(traceId))}`;

function ancestors(span: CollectedSpan, trace: CollectedSpan[]): CollectedSpan[] {
  const byId = new Map(trace.map((s) => [s.spanId, s]));
  const chain: CollectedSpan[] = [];
  for (
    let p = span.parentSpanId && byId.get(span.parentSpanId);
    p;
    p = p.parentSpanId ? byId.get(p.parentSpanId) : undefined
  )
    chain.push(p);
  return chain;
}

async function callWebApi(pathAndQuery: string) {
  const traceId = newTraceId();
  const res = await fetch(`${webApi.httpUrl}${pathAndQuery}`, {
    headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`, 'x-user-id': 'trace-tester' },
  });
  await res.arrayBuffer();
  return { traceId, status: res.status };
}

const clientSpanOf: Record<string, (s: CollectedSpan) => boolean> = {
  http: (s) =>
    s.scope.name === '@opentelemetry/instrumentation-undici' && String(s.attributes['url.full']).includes('/recipes/'),
  graphql: (s) =>
    s.scope.name === '@opentelemetry/instrumentation-undici' && String(s.attributes['url.full']).endsWith('/graphql'),
  grpc: (s) => s.scope.name === '@opentelemetry/instrumentation-grpc' && s.attributes['rpc.method'] === 'GetRecipe',
};

for (const via of ['http', 'graphql', 'grpc'] as const) {
  test(`via=${via}: one trace web-api server → client → recipe-api server → Redis`, { skip }, async () => {
    const { traceId, status } = await callWebApi(`/api/recipes/42?via=${via}`);
    assert.equal(status, 200);
    const trace = await receiver
      .waitFor(
        (spans) => {
          const t = spans.filter((s) => s.traceId === traceId);
          const done =
            t.some((s) => s.service === 'web-api' && s.kind === 'SERVER') &&
            t.some((s) => s.attributes['db.system.name'] === 'redis');
          return done ? t : undefined;
        },
        { what: `web-api and redis spans of ${via} trace ${traceId}` },
      )
      .catch((error: Error) => assert.fail(`${error.message}${show(traceId)}`));

    const webServer = trace.find((s) => s.service === 'web-api' && s.kind === 'SERVER');
    assert.ok(webServer, show(traceId));
    assert.equal(webServer.name, 'GET /api/recipes/:id');
    assert.equal(webServer.attributes['http.route'], '/api/recipes/:id');
    assert.equal(webServer.attributes['http.response.status_code'], 200);

    const client = trace.find((s) => s.service === 'web-api' && s.kind === 'CLIENT' && clientSpanOf[via]!(s));
    assert.ok(client, `web-api ${via} client span${show(traceId)}`);
    assert.ok(
      ancestors(client, trace).includes(webServer),
      `client span under the web-api server span${show(traceId)}`,
    );

    const recipeServer = trace.find((s) => s.service === 'recipe-api' && s.kind === 'SERVER');
    assert.ok(recipeServer, `recipe-api server span${show(traceId)}`);
    assert.equal(
      recipeServer.parentSpanId,
      client.spanId,
      `recipe-api server span is the client span's child${show(traceId)}`,
    );
    if (via === 'grpc') {
      assert.equal(recipeServer.name, 'grpc.recipes.v1.RecipeService/GetRecipe');
      assert.equal(recipeServer.attributes['rpc.system'], 'grpc');
      assert.equal(recipeServer.attributes['rpc.grpc.status_code'], 0);
      assert.equal(client.attributes['rpc.service'], 'recipes.v1.RecipeService');
    } else {
      assert.equal(client.attributes['http.request.method'], via === 'http' ? 'GET' : 'POST');
      assert.equal(client.attributes['http.response.status_code'], 200);
      assert.equal(recipeServer.attributes['http.route'], via === 'http' ? '/recipes/:id' : '/graphql');
    }
    if (via === 'graphql') {
      assert.ok(
        trace.some(
          (s) =>
            s.scope.name === '@opentelemetry/instrumentation-graphql' && ancestors(s, trace).includes(recipeServer),
        ),
        `graphql spans${show(traceId)}`,
      );
    }

    const redisSpan = trace.find((s) => s.attributes['db.system.name'] === 'redis');
    assert.ok(redisSpan, show(traceId));
    assert.equal(redisSpan.service, 'recipe-api');
    assert.equal(redisSpan.kind, 'CLIENT');
    assert.ok(
      ancestors(redisSpan, trace).includes(recipeServer),
      `Redis span under the recipe-api server span${show(traceId)}`,
    );
  });
}

for (const via of ['http', 'graphql', 'grpc'] as const) {
  test(`via=${via}: a failing call (recipe 999999) records an error on its spans`, { skip }, async () => {
    const { traceId, status } = await callWebApi(`/api/recipes/999999?via=${via}`);
    assert.equal(status, 404);
    const trace = await receiver.waitFor(
      (spans) => {
        const t = spans.filter((s) => s.traceId === traceId);
        return t.some((s) => s.service === 'web-api' && s.kind === 'SERVER') &&
          t.some((s) => s.service === 'recipe-api')
          ? t
          : undefined;
      },
      { what: `spans of failing ${via} trace` },
    );
    const webServer = trace.find((s) => s.service === 'web-api' && s.kind === 'SERVER')!;
    assert.equal(webServer.attributes['http.response.status_code'], 404);
    const client = trace.find((s) => s.service === 'web-api' && s.kind === 'CLIENT' && clientSpanOf[via]!(s));
    assert.ok(client, show(traceId));
    const errored = trace.filter((s) => s.status.code === 'ERROR');
    assert.ok(errored.length > 0, `an error is recorded on a span of the failing call${show(traceId)}`);
    if (via === 'grpc') {
      assert.equal(client.status.code, 'ERROR', show(traceId));
      assert.equal(client.attributes['rpc.grpc.status_code'], 5, 'NOT_FOUND');
    }
  });
}

test('both services export every histogram they observe with exemplars of collected traces', { skip }, async () => {
  const collected = new Set(receiver.traceIds());
  const expectations: [ServiceProcess, string[]][] = [
    [
      webApi,
      ['http_server_request_duration_seconds', 'upstream_request_duration_seconds', 'grpc_client_handling_seconds'],
    ],
    [
      recipeApi,
      [
        'http_server_request_duration_seconds',
        'grpc_server_handling_seconds',
        'graphql_operation_duration_seconds',
        'redis_command_duration_seconds',
      ],
    ],
  ];
  for (const [service, names] of expectations) {
    const res = await fetch(`${service.adminUrl}/metrics`, { headers: { accept: 'application/openmetrics-text' } });
    const scrape = parseScrape(await res.text(), { strict: true });
    const families = scrape.families;
    for (const name of names) {
      const exemplars = (families.get(name)?.samples ?? []).flatMap((s) =>
        s.exemplar?.labels.trace_id ? [s.exemplar.labels.trace_id] : [],
      );
      assert.ok(exemplars.length > 0, `${service.name} ${name} has exemplars`);
      assert.ok(
        exemplars.some((id) => collected.has(id)),
        `${service.name} ${name}: an exemplar trace_id was collected`,
      );
    }
  }
  assert.ok(
    (receiver.requests.get('traces/json') ?? 0) > 0 && (receiver.requests.get('traces/protobuf') ?? 0) > 0,
    JSON.stringify([...receiver.requests]),
  );
});

test('web-api log lines of a request carry its trace id, with via on the access line', { skip }, async () => {
  const { traceId } = await callWebApi('/api/recipes/42?via=grpc');
  const access = await receiver.waitFor(
    () => webApi.logs().find((l) => l.trace_id === traceId && l.msg === 'request'),
    { what: 'access line' },
  );
  assert.equal(access.via, 'grpc');
  assert.equal(access.route, '/api/recipes/:id');
  assert.ok(
    recipeApi.logs().some((l) => l.trace_id === traceId),
    'recipe-api lines of the same call carry the same trace id',
  );
});

// Last: these stop the services.
for (const [name, pathAndQuery] of [
  ['web-api', '/api/recipes/42?via=http'],
  ['recipe-api', '/recipes/42'],
] as const) {
  test(`${name}: SIGTERM under load fails readiness first, serves through the drain, loses nothing, exits 0`, {
    skip,
  }, async () => {
    const service = name === 'web-api' ? webApi : recipeApi;
    const before = service.logs().length;
    const result = await shutdownUnderLoad(service, {
      path: pathAndQuery,
      durationSec: 3,
      connections: 4,
      signalAfterMs: 1000,
    });
    const served = service
      .logs()
      .slice(before)
      .filter((l) => l.msg === 'request');
    const okServed = served.filter((l) => l.status === 200).length;
    const okReceived = [...result.statuses].filter(([s]) => s === 200).reduce((n, [, c]) => n + c, 0);

    assert.equal(result.exitCode, 0, service.stderr());
    assert.ok(
      result.exitAfterMs < drainDelayMs + 1500,
      `exited ${result.exitAfterMs} ms after SIGTERM (bound ${drainDelayMs + 3000})`,
    );
    assert.ok(
      result.unreadyAfterMs !== undefined && result.unreadyAfterMs < drainDelayMs,
      `readyz 503 after ${result.unreadyAfterMs} ms`,
    );
    assert.ok(result.answeredWhileUnready > 0, 'traffic answered after readiness failed');
    assert.ok(okServed > 20, `load reached ${name} (${okServed})`);
    assert.deepEqual(
      served.filter((l) => l.status !== 200).map((l) => l.status),
      [],
      'no accepted request ended otherwise than 200',
    );
    assert.equal(
      okReceived,
      okServed,
      `every 200 ${name} sent reached the client (errors: ${JSON.stringify([...result.errors])})`,
    );
  });
}
