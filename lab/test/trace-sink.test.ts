import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { context, trace } from '@opentelemetry/api';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { freePort } from '@recipe-mesh/measure/net';
import { startTraceSink } from '../src/trace/sink-server.js';
import { findTrace, lastTraces } from '../src/trace/store.js';
import { renderWaterfall } from '../src/trace/waterfall.js';
import { tempStateDir } from './helpers.js';

async function startSink(t: { after(fn: () => unknown): void }) {
  const file = path.join(tempStateDir(t), 'spans.ndjson');
  const port = await freePort();
  const sink = await startTraceSink({ port, file });
  t.after(() => sink.close());
  return { file, url: `http://127.0.0.1:${port}/v1/traces` };
}

/** Exports a parent SERVER span with a CLIENT child through a real OTLP exporter. */
async function exportTwoSpans(
  exporter: SpanExporter,
  service: string,
): Promise<{ traceId: string; parentId: string; childId: string }> {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('lab-test');
  const parent = tracer.startSpan('GET /api/recipes/:id', {
    kind: 1,
    attributes: { 'http.response.status_code': 200 },
  });
  const child = tracer.startSpan(
    'redis get',
    { kind: 2, attributes: { 'db.system': 'redis', retries: 3 } },
    trace.setSpan(context.active(), parent),
  );
  await new Promise((r) => setTimeout(r, 5));
  child.setStatus({ code: 2, message: 'boom' });
  child.end();
  parent.end();
  await provider.forceFlush();
  await provider.shutdown();
  return {
    traceId: parent.spanContext().traceId,
    parentId: parent.spanContext().spanId,
    childId: child.spanContext().spanId,
  };
}

for (const [encoding, Exporter] of [
  ['protobuf', ProtoExporter],
  ['json', JsonExporter],
] as const) {
  test(`the sink stores spans exported as OTLP/HTTP ${encoding} with ids, parents, kinds and attributes`, async (t) => {
    const sink = await startSink(t);
    const ids = await exportTwoSpans(new Exporter({ url: sink.url }), `svc-${encoding}`);
    const spans = await findTrace(sink.file, ids.traceId);
    assert.equal(spans.length, 2);
    const parent = spans.find((s) => s.spanId === ids.parentId)!;
    const child = spans.find((s) => s.spanId === ids.childId)!;
    assert.equal(parent.parentSpanId, null);
    assert.equal(child.parentSpanId, ids.parentId);
    assert.equal(parent.kind, 'SERVER');
    assert.equal(child.kind, 'CLIENT');
    assert.equal(parent.service, `svc-${encoding}`);
    assert.equal(parent.attributes['http.response.status_code'], 200);
    assert.equal(child.attributes['db.system'], 'redis');
    assert.equal(child.attributes.retries, 3);
    assert.equal(child.statusCode, 'ERROR');
    assert.equal(child.statusMessage, 'boom');
    assert.ok(child.durationMs >= 4 && child.durationMs < 1000, `duration ${child.durationMs}`);
    assert.ok(Math.abs(parent.startMs - Date.now()) < 10_000);
    // A prefix finds the trace, as `lab trace <prefix>` does.
    assert.equal((await findTrace(sink.file, ids.traceId.slice(0, 8))).length, 2);
  });
}

test('waterfall and trace list: children indented under parents, errors and durations shown', async (t) => {
  const sink = await startSink(t);
  const first = await exportTwoSpans(new ProtoExporter({ url: sink.url }), 'web-api');
  const second = await exportTwoSpans(new ProtoExporter({ url: sink.url }), 'recipe-api');
  const text = renderWaterfall(await findTrace(sink.file, first.traceId), { barWidth: 20 });
  const lines = text.split('\n');
  assert.match(lines[0]!, new RegExp(`^trace ${first.traceId}  2 spans`));
  assert.match(lines[1]!, /^web-api\s+server GET \/api\/recipes\/:id\s+\|█+\s*\|\s+[\d.]+ ms 200$/);
  assert.match(lines[2]!, /^ {2}web-api\s+client redis get\s+\|\s*█+\s*\|\s+[\d.]+ ms ERROR$/);
  const listed = await lastTraces(sink.file, 1);
  assert.deepEqual(
    listed.map((x) => x.traceId),
    [second.traceId],
  );
  assert.equal(listed[0]!.errors, 1);
  assert.equal(listed[0]!.rootName, 'recipe-api: GET /api/recipes/:id');
});

test('an undecodable body gets 400 and stores nothing', async (t) => {
  const sink = await startSink(t);
  const res = await fetch(sink.url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf' },
    body: new Uint8Array([0xff, 0xff, 0xff]),
  });
  assert.equal(res.status, 400);
  const json = await fetch(sink.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{not json',
  });
  assert.equal(json.status, 400);
  assert.throws(() => readFileSync(sink.file), /ENOENT/);
});
