/**
 * Issue 3 items 2-4 on a small service built like the real ones (test/fixtures/observed-app.ts):
 * the telemetry bootstrap patches ESM-imported express and ioredis and exports OTLP/JSON, /metrics
 * is valid OpenMetrics with every contract family and exemplars pointing at real traces, and log
 * lines inside a request carry its trace id.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { assertFound, requireBinary } from '@recipe-mesh/measure/binaries';
import { requireImageNode } from '@recipe-mesh/measure/image-node';
import { startRedis, type RedisProcess } from '@recipe-mesh/measure/redis-server';
import { freePort } from '@recipe-mesh/measure/net';
import {
  startOtlpReceiver,
  formatTrace,
  type OtlpReceiver,
  type CollectedSpan,
} from '@recipe-mesh/measure/otlp-receiver';
import { startService, type ServiceProcess } from './helpers/service-process.js';
import { familyOf, parseScrape } from '@recipe-mesh/measure/metric-text';
import { promtoolCheckMetrics } from './helpers/openmetrics.js';
import { contractMetricNames } from './helpers/contract-metrics.js';

const redisBinary = requireBinary('redis-server');
const promtool = requireBinary('promtool');
const skip = 'skip' in redisBinary ? redisBinary.skip : false;

let redis: RedisProcess;
let receiver: OtlpReceiver;
let app: ServiceProcess;

before(async () => {
  if (skip || 'skip' in redisBinary) return;
  redis = await startRedis(redisBinary.path);
  receiver = await startOtlpReceiver();
  app = await startService({
    name: 'observed-app',
    entry: 'services/platform/test/fixtures/observed-app.ts',
    httpPort: await freePort(),
    adminPort: await freePort(),
    env: {
      REDIS_URL: redis.url,
      OTEL_SERVICE_NAME: 'observed-app',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    },
  });
  await fetch(`${app.httpUrl}/items/7`, { method: 'PUT', body: 'soup' });
});

after(async () => {
  await app?.kill();
  await receiver?.close();
  await redis?.stop();
});

const newTraceId = () => randomBytes(16).toString('hex');
const newSpanId = () => randomBytes(8).toString('hex');
const show = (traceId: string) => `\n${formatTrace(receiver.tree(traceId))}`;

/** The server span of a trace and its subtree, once the Redis span has arrived. */
async function tracedRequest(traceId: string, predicate: (spans: CollectedSpan[]) => boolean) {
  return receiver.waitFor(
    (spans) => {
      const trace = spans.filter((s) => s.traceId === traceId);
      return predicate(trace) ? trace : undefined;
    },
    { what: `spans of trace ${traceId}` },
  );
}

test('ESM-imported express and ioredis are traced: server span → express handler → Redis span, exported as OTLP/JSON', {
  skip,
}, async () => {
  const traceId = newTraceId();
  const parentId = newSpanId();
  const res = await fetch(`${app.httpUrl}/items/7`, { headers: { traceparent: `00-${traceId}-${parentId}-01` } });
  assert.equal(res.status, 200);

  const spans = await tracedRequest(traceId, (t) => t.some((s) => s.name === 'get' && s.kind === 'CLIENT'));
  const server = spans.find((s) => s.kind === 'SERVER');
  assert.ok(server, `no server span${show(traceId)}`);
  assert.equal(server.parentSpanId, parentId, 'the incoming traceparent is the server span parent');
  assert.equal(server.name, 'GET /items/:id');
  assert.equal(server.scope.name, '@opentelemetry/instrumentation-http');
  assert.equal(server.service, 'observed-app');
  assert.equal(server.attributes['http.request.method'], 'GET');
  assert.equal(server.attributes['http.route'], '/items/:id');
  assert.equal(server.attributes['http.response.status_code'], 200);

  // Only the ESM hook makes these two appear: without it express and ioredis load unpatched.
  const handler = spans.find((s) => s.scope.name === '@opentelemetry/instrumentation-express');
  assert.ok(handler, `no express span (ESM hook not applied?)${show(traceId)}`);
  assert.equal(handler.parentSpanId, server.spanId);
  assert.equal(handler.attributes['http.route'], '/items/:id');
  const redisSpan = spans.find((s) => s.scope.name === '@opentelemetry/instrumentation-ioredis');
  assert.ok(redisSpan, `no ioredis span${show(traceId)}`);
  assert.equal(redisSpan.kind, 'CLIENT');
  assert.equal(redisSpan.parentSpanId, handler.spanId);
  assert.equal(redisSpan.attributes['db.system.name'], 'redis');
  assert.equal(redisSpan.attributes['db.operation.name'], 'get');
  assert.equal(redisSpan.attributes['db.query.text'], 'get item:7', 'keys are kept, values never');
  assert.equal(redisSpan.attributes['server.port'], redis.port);
  assert.ok((receiver.requests.get('traces/json') ?? 0) > 0, 'exported with OTEL_EXPORTER_OTLP_PROTOCOL=http/json');
});

// The images' Node runs import-in-the-middle's hook in the app's thread (module.registerHooks), a
// path this machine's Node may not take (services/platform/src/telemetry.ts): the same app there.
const imageNode = requireImageNode();
test("on the images' Node too, ESM-imported express and ioredis are traced", {
  skip: skip || ('skip' in imageNode ? imageNode.skip : false),
}, async (t) => {
  assertFound(imageNode);
  const imageApp = await startService({
    name: 'observed-app-image-node',
    entry: 'services/platform/test/fixtures/observed-app.ts',
    httpPort: await freePort(),
    adminPort: await freePort(),
    node: imageNode.path,
    env: {
      REDIS_URL: redis.url,
      OTEL_SERVICE_NAME: 'observed-app-image-node',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    },
  });
  t.after(() => imageApp.kill());
  const traceId = newTraceId();
  const res = await fetch(`${imageApp.httpUrl}/items/7`, {
    headers: { traceparent: `00-${traceId}-${newSpanId()}-01` },
  });
  assert.equal(res.status, 200);
  const spans = await tracedRequest(traceId, (trace) => trace.some((s) => s.name === 'get' && s.kind === 'CLIENT'));
  const scopes = new Set(spans.map((s) => s.scope.name));
  for (const scope of ['@opentelemetry/instrumentation-express', '@opentelemetry/instrumentation-ioredis'])
    assert.ok(scopes.has(scope), `no ${scope} span on the images' Node${show(traceId)}`);
  assert.ok(spans.every((s) => s.service === 'observed-app-image-node'));
});

test('B3 multi-header context from a mesh hop continues the same trace', { skip }, async () => {
  const traceId = newTraceId();
  const parentId = newSpanId();
  const res = await fetch(`${app.httpUrl}/items/7`, {
    headers: { 'x-b3-traceid': traceId, 'x-b3-spanid': parentId, 'x-b3-sampled': '1' },
  });
  assert.equal(res.status, 200);
  const spans = await tracedRequest(traceId, (t) => t.some((s) => s.kind === 'SERVER'));
  assert.equal(spans.find((s) => s.kind === 'SERVER')?.parentSpanId, parentId);
});

test('a failing request records the error on its span', { skip }, async () => {
  const traceId = newTraceId();
  const res = await fetch(`${app.httpUrl}/items/404404`, {
    headers: { traceparent: `00-${traceId}-${newSpanId()}-01` },
  });
  assert.equal(res.status, 404);
  const spans = await tracedRequest(
    traceId,
    (t) => t.some((s) => s.status.code === 'ERROR') && t.some((s) => s.kind === 'SERVER'),
  );
  const server = spans.find((s) => s.kind === 'SERVER')!;
  assert.equal(server.attributes['http.response.status_code'], 404);
  const failed = spans.find((s) => s.status.code === 'ERROR')!;
  assert.ok(
    failed.events.some(
      (e) => e.name === 'exception' && String(e.attributes['exception.message']).includes('item 404404 not found'),
    ),
    `the exception is recorded as a span event${show(traceId)}`,
  );
});

test('probe and scrape requests are not traced', { skip }, async () => {
  for (const p of ['/livez', '/readyz', '/startupz', '/metrics'])
    assert.equal((await fetch(`${app.adminUrl}${p}`)).status, 200);
  const marker = newTraceId();
  await fetch(`${app.httpUrl}/items/7`, { headers: { traceparent: `00-${marker}-${newSpanId()}-01` } });
  await tracedRequest(marker, (t) => t.some((s) => s.kind === 'SERVER'));
  const noise = receiver
    .spans()
    .filter((s) => /^\/(livez|readyz|startupz|metrics)/.test(String(s.attributes['url.path'] ?? '')));
  assert.deepEqual(
    noise.map((s) => s.name),
    [],
  );
});

test('/metrics is OpenMetrics with every contract family and a trace_id exemplar of a collected trace', {
  skip,
}, async () => {
  const traceId = newTraceId();
  await fetch(`${app.httpUrl}/items/7`, { headers: { traceparent: `00-${traceId}-${newSpanId()}-01` } });
  await tracedRequest(traceId, (t) => t.some((s) => s.kind === 'SERVER'));

  const res = await fetch(`${app.adminUrl}/metrics`, {
    headers: { accept: 'application/openmetrics-text; version=1.0.0' },
  });
  assert.match(res.headers.get('content-type') ?? '', /^application\/openmetrics-text; version=1\.0\.0/);
  const scrape = parseScrape(await res.text(), { strict: true });
  const families = scrape.families;
  const missing = contractMetricNames().filter((name) => !familyOf(scrape, name));
  assert.deepEqual(missing, [], 'every metric of docs/contracts.md is exported');
  for (const name of contractMetricNames()) assert.ok(familyOf(scrape, name)!.help.length > 0, `${name} has help text`);

  const http = families.get('http_server_request_duration_seconds')!;
  assert.equal(http.type, 'histogram');
  const buckets = http.samples.filter((s) => s.name.endsWith('_bucket') && s.labels.route === '/items/:id');
  assert.deepEqual(
    [...new Set(buckets.map((s) => s.labels.le))],
    ['0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf'],
  );
  assert.deepEqual(Object.keys(buckets[0]!.labels).sort(), ['le', 'method', 'route', 'service', 'status_code']);
  const exemplarTraces = new Set(buckets.flatMap((s) => (s.exemplar ? [s.exemplar.labels.trace_id] : [])));
  assert.ok(exemplarTraces.size > 0, 'histogram buckets carry exemplars');
  const collected = new Set(receiver.traceIds());
  assert.ok(
    [...exemplarTraces].some((id) => id && collected.has(id)),
    'an exemplar trace_id is a trace the receiver collected',
  );

  const redisFamily = families.get('redis_command_duration_seconds')!;
  const redisExemplar = redisFamily.samples.find((s) => s.exemplar && s.labels.command === 'get');
  assert.ok(
    redisExemplar && collected.has(redisExemplar.exemplar!.labels.trace_id!),
    'redis histogram exemplar points at a collected trace',
  );
  assert.equal(families.get('redis_connection_up')!.samples[0]!.value, 1);
});

test('/metrics without Accept is Prometheus text that promtool accepts', { skip }, async (t) => {
  const res = await fetch(`${app.adminUrl}/metrics`);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  assert.doesNotMatch(text, /# EOF|trace_id=/);
  assert.match(text, /^# TYPE cache_lookups_total counter$/m);
  assert.match(text, /^cache_lookups_total\{result="hit",service="observed-app"\} \d+$/m);
  if ('skip' in promtool) return t.skip(promtool.skip);
  const check = await promtoolCheckMetrics(promtool.path, text);
  assert.doesNotMatch(check.output, /error while linting|parsing error/, 'promtool parses the exposition');
  // promtool's lint flags three prom-client default gauges for their `_total` suffix; the names
  // are prom-client's (collectDefaultMetrics) and docs/contracts.md lists them as they are.
  const promClientNames =
    /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;
  const problems = check.output.split('\n').filter((line) => line.trim() && !promClientNames.test(line.trim()));
  assert.deepEqual(problems, [], check.output);
});

test('log lines inside a request carry its trace_id and span_id; lines outside do not', { skip }, async () => {
  const traceId = newTraceId();
  await fetch(`${app.httpUrl}/items/7`, { headers: { traceparent: `00-${traceId}-${newSpanId()}-01` } });
  const spans = await tracedRequest(traceId, (t) => t.some((s) => s.kind === 'SERVER'));
  const spanIds = new Set(spans.map((s) => s.spanId));
  const lines = app.logs().filter((l) => l.trace_id === traceId);
  const access = lines.find((l) => l.msg === 'request');
  assert.ok(access, 'the access line carries the trace id');
  assert.deepEqual(
    { method: access.method, route: access.route, status: access.status, typeofDuration: typeof access.duration_ms },
    { method: 'GET', route: '/items/:id', status: 200, typeofDuration: 'number' },
  );
  assert.ok(spanIds.has(access.span_id!), 'span_id is a span of that trace');
  assert.ok(
    lines.some((l) => l.msg === 'looking up item'),
    'handler lines carry it too',
  );
  const listening = app.logs().find((l) => l.msg === 'listening');
  assert.ok(listening && listening.trace_id === undefined, 'start-up lines have no trace id');
});
