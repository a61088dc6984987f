/**
 * The server span from the `http` diagnostics channel (src/http-server-spans.ts) against the one
 * the stock instrumentation-http makes, on the same app (test/fixtures/observed-app.ts) and the
 * same requests: name, kind, scope, parent, status and every attribute but the ports that differ
 * between the two processes; on the machine's Node and on the images' (AsyncLocalStorage keeps
 * its context on async_hooks resources on Node 20 and in async context frames on Node 24, and the
 * server span enters the request's context with it). The telemetry bootstrap keeps the stock instrumentation when
 * OTEL_METRICS_EXPORTER asks for OTel metrics: `console` here, whose first export (a minute in)
 * comes after the test.
 */
import { test, before, after } from 'node:test';
import http from 'node:http';
import { once } from 'node:events';
import { setTimeout } from 'node:timers/promises';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { requireBinary } from '@recipe-mesh/measure/binaries';
import { requireImageNode } from '@recipe-mesh/measure/image-node';
import { startRedis, type RedisProcess } from '@recipe-mesh/measure/redis-server';
import { freePort, waitFor } from '@recipe-mesh/measure/net';
import { startOtlpReceiver, type OtlpReceiver, type CollectedSpan } from '@recipe-mesh/measure/otlp-receiver';
import { startService, type ServiceProcess } from './helpers/service-process.js';

const redisBinary = requireBinary('redis-server');
const skip = 'skip' in redisBinary ? redisBinary.skip : false;
const imageNode = requireImageNode();
const nodes = [
  { label: "the machine's Node", path: process.execPath, skip },
  {
    label: "the images' Node",
    path: 'path' in imageNode ? imageNode.path : '',
    skip: skip || ('skip' in imageNode ? imageNode.skip : false),
  },
];

let redis: RedisProcess;
let receiver: OtlpReceiver;
const apps: { channel: ServiceProcess; stock: ServiceProcess }[] = [];

async function startApp(name: string, node: string, env: Record<string, string>): Promise<ServiceProcess> {
  return startService({
    name,
    node,
    entry: 'services/platform/test/fixtures/observed-app.ts',
    httpPort: await freePort(),
    adminPort: await freePort(),
    startTimeoutMs: 60_000,
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
  // Two processes at a time: four tsx start-ups at once outlast the start timeout on a busy machine.
  for (const [i, node] of nodes.entries()) {
    if (node.skip) continue;
    const [channel, stock] = await Promise.all([
      startApp(`channel-spans-${i}`, node.path, {}),
      startApp(`stock-spans-${i}`, node.path, { OTEL_METRICS_EXPORTER: 'console' }),
    ]);
    apps[i] = { channel, stock };
  }
  await fetch(`${apps.find(Boolean)!.channel.httpUrl}/items/7`, { method: 'PUT', body: 'soup' });
});

after(async () => {
  await Promise.all(apps.flatMap((a) => [a?.channel.kill(), a?.stock.kill()]));
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

/**
 * One request to an app, with a parent from `parent`'s headers (an aborted one gives up after
 * 100 ms); its server span and the names of that span's children.
 */
async function serverSpanOf(app: ServiceProcess, path: string, parent: 'traceparent' | 'b3' | 'aborted' | 'late body') {
  const traceId = newTraceId();
  const parentId = newSpanId();
  const headers: Record<string, string> =
    parent === 'b3'
      ? { 'x-b3-traceid': traceId, 'x-b3-spanid': parentId, 'x-b3-sampled': '1', 'user-agent': 'span-comparison' }
      : { traceparent: `00-${traceId}-${parentId}-01`, 'user-agent': 'span-comparison' };
  if (parent === 'late body') {
    await putWithLateBody(`${app.httpUrl}${path}`, headers);
  } else if (parent === 'aborted') {
    await assert.rejects(fetch(`${app.httpUrl}${path}`, { headers, signal: AbortSignal.timeout(100) }));
  } else {
    await (await fetch(`${app.httpUrl}${path}`, { headers })).arrayBuffer();
  }
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
  // The access line is written on the response's `finish`, or its `close` when the client left
  // (http-observability.ts): either way inside the request's trace.
  const access = await waitFor(() => app.logs().find((l) => l.msg === 'request' && l.trace_id === traceId), {
    timeoutMs: 5000,
    what: `${app.name}'s access line of trace ${traceId}`,
  });
  const accessLineSpan = spans.find((s) => s.spanId === access.span_id)?.name;
  const children = spans.filter((s) => s.parentSpanId === server.spanId).map((s) => s.name);
  return { server: comparable(server), children, accessLineSpan };
}

/**
 * A PUT whose body leaves 100 ms after its headers, so the server reads it from a later socket
 * chunk than the one that started the request (body-parser continues the chain on `end`).
 */
async function putWithLateBody(url: string, headers: Record<string, string>): Promise<void> {
  const body = 'late soup';
  const request = http.request(url, {
    method: 'PUT',
    headers: { ...headers, 'content-type': 'text/plain', 'content-length': String(body.length) },
  });
  request.flushHeaders();
  const answered = once(request, 'response');
  await setTimeout(100);
  request.end(body);
  const [response] = (await answered) as [http.IncomingMessage];
  response.resume();
  await once(response, 'end');
  assert.equal(response.statusCode, 204);
}

const requests = [
  ['/items/7', 'traceparent', 'GET /items/:id'],
  ['/items/404404?sig=secret&page=2', 'traceparent', 'GET /items/:id'],
  ['/items/7', 'b3', 'GET /items/:id'],
  ['/slow?ms=2000', 'aborted', 'GET /slow'],
  ['/items/8', 'late body', 'PUT /items/:id'],
] as const;

for (const [i, node] of nodes.entries()) {
  for (const [path, parent, name] of requests) {
    test(`on ${node.label}, ${name.split(' ')[0]} ${path} (${parent}): the diagnostics-channel server span is the stock one`, {
      skip: node.skip,
    }, async () => {
      const { channel, stock } = apps[i]!;
      const [fromChannel, fromStock] = await Promise.all([
        serverSpanOf(channel, path, parent),
        serverSpanOf(stock, path, parent),
      ]);
      assert.deepEqual(fromChannel, fromStock);
      assert.equal(fromChannel.server.scope.name, '@opentelemetry/instrumentation-http');
      assert.equal(fromChannel.server.name, name);
      assert.ok(fromChannel.children.includes('request handler'), 'the handler ran in the request context');
    });
  }

  test(`on ${node.label}, admin-port requests get no span, and the next request its own trace`, {
    skip: node.skip,
  }, async () => {
    const { channel } = apps[i]!;
    const marker = newTraceId();
    for (const p of ['/livez', '/readyz', '/metrics']) {
      const res = await fetch(`${channel.adminUrl}${p}`, {
        headers: { traceparent: `00-${marker}-${newSpanId()}-01` },
      });
      assert.equal(res.status, 200);
    }
    // A request after them gets its own trace; spans of theirs would have been exported by then.
    await serverSpanOf(channel, '/items/7', 'traceparent');
    assert.deepEqual(
      receiver.spans().filter((s) => s.traceId === marker),
      [],
    );
  });
}
