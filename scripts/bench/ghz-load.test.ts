import assert from 'node:assert/strict';
import { test } from 'node:test';
import { summaryFromGhz } from './ghz-load.js';

test("ghz's JSON report reads as a load summary: OK as 200, other codes as failures, nanoseconds as ms", () => {
  const summary = summaryFromGhz(
    {
      count: 1000,
      total: 2_000_000_000,
      average: 1_500_000,
      slowest: 9_000_000,
      rps: 500,
      latencyDistribution: [
        { percentage: 50, latency: 1_250_000 },
        { percentage: 90, latency: 3_000_000 },
        { percentage: 99, latency: 7_500_000 },
      ],
      statusCodeDistribution: { OK: 998, Unavailable: 2 },
      errorDistribution: { 'rpc error: code = Unavailable desc = connection refused': 2 },
    },
    20,
  );
  assert.equal(summary.requests, 1000);
  assert.deepEqual(summary.byStatus, { '200': 998, '0': 2 });
  assert.equal(summary.errors, 2);
  assert.equal(summary.requestsPerSecond, 500);
  assert.equal(summary.durationMs, 2000);
  assert.deepEqual(summary.latencyMs, { count: 998, p50: 1.25, p90: 3, p99: 7.5, max: 9, mean: 1.5 });
});

test('a run where nothing answered has no latency', () => {
  const summary = summaryFromGhz(
    {
      count: 20,
      total: 1e9,
      average: 0,
      slowest: 0,
      rps: 20,
      latencyDistribution: null,
      statusCodeDistribution: { Unavailable: 20 },
      errorDistribution: { 'rpc error: code = Unavailable desc = connection refused': 20 },
    },
    20,
  );
  assert.deepEqual(summary.byStatus, { '0': 20 });
  assert.equal(summary.latencyMs.p50, null);
  assert.equal(summary.latencyMs.max, null);
});

test('the calls ghz cuts at its deadline are left out, at most one per worker', () => {
  const closed =
    'rpc error: code = Unavailable desc = error reading from server: read tcp: use of closed network connection';
  const report = {
    count: 1025,
    total: 1e9,
    average: 1e6,
    slowest: 2e6,
    rps: 1025,
    latencyDistribution: [{ percentage: 50, latency: 1e6 }],
    statusCodeDistribution: { OK: 1000, Unavailable: 23, Canceled: 2 },
    errorDistribution: {
      [closed]: 23,
      'rpc error: code = Canceled desc = grpc: the client connection is closing': 2,
    },
  };
  const summary = summaryFromGhz(report, 20);
  assert.equal(summary.requests, 1005);
  assert.deepEqual(summary.byStatus, { '200': 1000, '0': 5 });
  assert.equal(summary.requestsPerSecond, 1005);
});
