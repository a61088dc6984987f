import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { formatSummary, type RequestRecord, summarizeRequests } from '@recipe-mesh/measure/requests';
import { runBursts, runLoad } from '../src/load.js';

/** A server that answers after `delayMs`, every third request 503 with flag UC, like an Envoy ingress would. */
async function server(t: { after(fn: () => unknown): void }, delayMs: number) {
  let count = 0;
  const seen: string[] = [];
  const s = http.createServer((req, res) => {
    const n = ++count;
    seen.push(req.url ?? '');
    setTimeout(() => {
      const uc = n % 3 === 0;
      res
        .writeHead(uc ? 503 : 200, { 'x-lab-response-flags': uc ? 'UC' : '-' })
        .end(uc ? 'upstream connect error' : '{}');
    }, delayMs);
  });
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  t.after(() => new Promise((r) => s.close(r)));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, count: () => count, seen };
}

test('concurrency load: one record per answered request with status, latency and the response-flags header', async (t) => {
  const target = await server(t, 20);
  const { records, summary } = await runLoad({
    baseUrl: target.url,
    path: '/api/recipes/42',
    via: 'grpc',
    mode: { kind: 'concurrency', connections: 3 },
    durationMs: 1000,
  });
  assert.ok(records.length >= 30, `${records.length} requests in 1 s at 3 × ~20 ms`);
  assert.ok(target.count() >= records.length, 'no record without a request');
  assert.ok(target.seen.every((u) => u === '/api/recipes/42?via=grpc'));
  for (const r of records) {
    assert.deepEqual(r.flags, r.status === 503 ? ['UC'] : []);
    assert.ok(r.latencyMs >= 19, `latency ${r.latencyMs}`);
  }
  assert.equal(summary.requests, records.length);
  assert.equal((summary.byStatus['503'] ?? 0) + (summary.byStatus['200'] ?? 0), records.length);
  assert.equal(summary.byOutcome['503 UC'], summary.byStatus['503']);
  assert.ok(summary.byOutcome['503 UC']! > 0);
  const { p50, p90, p99, max } = summary.latencyMs;
  assert.ok(p50 !== null && p90 !== null && p99 !== null && max !== null, 'latency measured');
  assert.ok(p50 >= 20 && p50 < 200, `p50 ${p50}`);
  assert.ok(p50 <= p90 && p90 <= p99 && p99 <= max);
  assert.match(formatSummary(summary), /requests .* 200 -×\d+.* 503 UC×\d+ .*latency ms p50 \d/);
});

test('rate load stays near the asked rate', async (t) => {
  const target = await server(t, 1);
  const { summary } = await runLoad({
    baseUrl: target.url,
    path: '/x',
    mode: { kind: 'rate', requestsPerSecond: 20, connections: 2 },
    durationMs: 2000,
  });
  // autocannon spends each second's budget at the start of that second, and the window that opens
  // at the 2 s mark can start before the run stops: up to three windows (60). Unthrottled, this
  // 1 ms server would answer thousands, so the bound still proves the rate is held.
  assert.ok(summary.requests >= 30 && summary.requests <= 60, `${summary.requests} requests in 2 s at 20/s`);
});

test('bursts with idle gaps: records carry their burst, gaps have no traffic', async (t) => {
  const target = await server(t, 1);
  const { records, perBurst } = await runBursts({
    baseUrl: target.url,
    path: '/x',
    mode: { kind: 'concurrency', connections: 1 },
    durationMs: 300,
    bursts: 2,
    idleMs: 700,
  });
  assert.equal(perBurst.length, 2);
  const first = records.filter((r) => r.burst === 0);
  const second = records.filter((r) => r.burst === 1);
  assert.ok(first.length > 0 && second.length > 0);
  const gap =
    Math.min(...second.map((r) => r.startedAtMs)) - Math.max(...first.map((r) => r.startedAtMs + r.latencyMs));
  assert.ok(gap >= 600, `idle gap ${gap} ms`);
  const span = (list: typeof records) =>
    Math.max(...list.map((r) => r.startedAtMs)) - Math.min(...list.map((r) => r.startedAtMs));
  assert.ok(span(first) < 600, `a 300 ms burst lasted ${span(first)} ms`);
});

test('requests that get no answer are recorded with status 0 and the error', async (t) => {
  const silent = http.createServer(() => undefined); // never answers
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  t.after(() => {
    silent.closeAllConnections();
    silent.close();
  });
  const { records, summary } = await runLoad({
    baseUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
    path: '/',
    mode: { kind: 'concurrency', connections: 1 },
    durationMs: 2500,
    timeoutMs: 1000,
  });
  assert.ok(records.length >= 1);
  assert.ok(records.every((r) => r.status === 0 && r.error === 'request timed out'));
  assert.equal(summary.errors, records.length);
  assert.deepEqual(
    summary.latencyMs,
    { count: 0, p50: null, p90: null, p99: null, max: null, mean: null },
    'no answer: no latency data, not zero',
  );
});

test('summaries count statuses and flags over records', () => {
  const r = (status: number, latencyMs: number, flags: string[]): RequestRecord => ({
    startedAtMs: 0,
    status,
    latencyMs,
    flags,
    error: null,
    bytes: 0,
    burst: 0,
  });
  const s = summarizeRequests([r(200, 10, []), r(503, 2, ['UC']), r(200, 30, []), r(0, 0, [])], 2000);
  assert.deepEqual(s.byStatus, { '200': 2, '503': 1, '0': 1 });
  assert.deepEqual(s.byOutcome, { '200 -': 2, '503 UC': 1, '0 -': 1 });
  assert.equal(s.errors, 1);
  assert.equal(s.requestsPerSecond, 2);
  assert.deepEqual(s.latencyMs, { count: 3, p50: 10, p90: 30, p99: 30, max: 30, mean: 14 });
});
