/**
 * The server span from the `http` diagnostics channel (src/http-server-spans.ts) against the one
 * the stock instrumentation-http makes, on the same app (test/fixtures/observed-app.ts) and the
 * same requests: name, kind, scope, parent, status and every attribute but the ports that differ
 * between the two processes. The telemetry bootstrap keeps the stock instrumentation when
 * OTEL_METRICS_EXPORTER asks for OTel metrics: `console` here, whose first export (a minute in)
 * comes after the test.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { requireBinary } from '@recipe-mesh/measure/binaries';
import { startRedis, type RedisProcess } from '@recipe-mesh/measure/redis-server';
import { freePort } from '@recipe-mesh/measure/net';
import { startOtlpReceiver, type OtlpReceiver, type CollectedSpan } from '@recipe-mesh/measure/otlp-receiver';
import { startService, type ServiceProcess } from './helpers/service-process.js';

const redisBinary = requireBinary('redis-server');
const skip = 'skip' in redisBinary ? redisBinary.skip : false;

let redis: RedisProcess;
let receiver: OtlpReceiver;
let channelApp: ServiceProcess;
let stockApp: ServiceProcess;

async function startApp(name: string, env: Record<string, string>): Promise<ServiceProcess> {
  return startService({
    name,
    entry: 'services/platform/test/fixtures/observed-app.ts',
    httpPort: await freePort(),
    adminPort: await freePort(),
    env: {
      REDIS_URL: redis.url,
      OTEL_SERVICE_NAME: name,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      ...env,
    },
  });
}

before(async () => {
  if (skip || 'skip' in redisBinary) return;
  redis = await startRedis(redisBinary.path);
  receiver = await startOtlpReceiver();
  [channelApp, stockApp] = await Promise.all([
    startApp('channel-spans', {}),
    startApp('stock-spans', { OTEL_METRICS_EXPORTER: 'console' }),
  ]);
  await fetch(`${channelApp.httpUrl}/items/7`, { method: 'PUT', body: 'soup' });
});

after(async () => {
  await Promise.all([channelApp?.kill(), stockApp?.kill()]);
  await receiver?.close();
  await redis?.stop();
});

const newTraceId = () => randomBytes(16).toString('hex');
const newSpanId = () => randomBytes(8).toString('hex');

/** What must match: everything but the ports, which belong to each process. */
function comparable(span: CollectedSpan) {
  const { 'server.port': _server, 'network.peer.port': _peer, ...attributes } = span.attributes;
  return { name: span.name, kind: span.kind, scope: span.scope, status: span.status, attributes };
}

/** One request to an app, with a parent from `headers`; its server span and that span's children. */
async function serverSpanOf(app: ServiceProcess, path: string, parent: 'traceparent' | 'b3') {
  const traceId = newTraceId();
  const parentId = newSpanId();
  const headers: Record<string, string> =
    parent === 'traceparent'
      ? { traceparent: `00-${traceId}-${parentId}-01`, 'user-agent': 'span-comparison' }
      : { 'x-b3-traceid': traceId, 'x-b3-spanid': parentId, 'x-b3-sampled': '1', 'user-agent': 'span-comparison' };
  const res = await fetch(`${app.httpUrl}${path}`, { headers });
  await res.arrayBuffer();
  const spans = await receiver.waitFor(
    (all) => {
      const trace = all.filter((s) => s.traceId === traceId);
      const server = trace.find((s) => s.kind === 'SERVER');
      return server && trace.some((s) => s.parentSpanId === server.spanId) ? trace : undefined;
    },
    { what: `the server span of ${path} on ${app.name}` },
  );
  const server = spans.find((s) => s.kind === 'SERVER')!;
  assert.equal(server.parentSpanId, parentId, `${app.name}: the propagated context is the server span's parent`);
  const children = spans.filter((s) => s.parentSpanId === server.spanId).map((s) => s.name);
  return { server: comparable(server), children };
}

for (const [path, parent] of [
  ['/items/7', 'traceparent'],
  ['/items/404404?sig=secret&page=2', 'traceparent'],
  ['/items/7', 'b3'],
] as const) {
  test(`GET ${path} (${parent}): the diagnostics-channel server span is the stock instrumentation's`, {
    skip,
  }, async () => {
    const channel = await serverSpanOf(channelApp, path, parent);
    const stock = await serverSpanOf(stockApp, path, parent);
    assert.deepEqual(channel, stock);
    assert.equal(channel.server.scope.name, '@opentelemetry/instrumentation-http');
    assert.equal(channel.server.name, 'GET /items/:id');
    assert.deepEqual(channel.children, ['request handler']);
  });
}

test('probe and admin requests get no server span from the diagnostics channel', { skip }, async () => {
  const marker = newTraceId();
  for (const p of ['/livez', '/readyz', '/metrics'])
    assert.equal(
      (await fetch(`${channelApp.adminUrl}${p}`, { headers: { traceparent: `00-${marker}-${newSpanId()}-01` } }))
        .status,
      200,
    );
  await serverSpanOf(channelApp, '/items/7', 'traceparent');
  assert.deepEqual(
    receiver.spans().filter((s) => s.traceId === marker),
    [],
  );
});
