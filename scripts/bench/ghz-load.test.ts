import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type GhzReport, summaryFromGhz } from './ghz-load.js';

const refused = 'rpc error: code = Unavailable desc = connection refused';

/** A one-second ghz report of `ok` answers and `errors` (message → count), 1 ms each unless given. */
function ghzReport(ok: number, errors: Record<string, number>, overrides: Partial<GhzReport> = {}): GhzReport {
  const failed = Object.values(errors).reduce((a, b) => a + b, 0);
  return {
    count: ok + failed,
    total: 1e9,
    average: ok ? 1e6 : 0,
    slowest: ok ? 2e6 : 0,
    rps: ok + failed,
    latencyDistribution: ok ? [{ percentage: 50, latency: 1e6 }] : null,
    statusCodeDistribution: { ...(ok ? { OK: ok } : {}), ...(failed ? { Unavailable: failed } : {}) },
    errorDistribution: failed ? errors : null,
    ...overrides,
  };
}

test("ghz's JSON report reads as a load summary: OK as 200, other codes as failures, nanoseconds as ms", () => {
  const summary = summaryFromGhz(
    ghzReport(
      998,
      { [refused]: 2 },
      {
        total: 2e9,
        average: 1.5e6,
        slowest: 9e6,
        rps: 500,
        latencyDistribution: [
          { percentage: 50, latency: 1.25e6 },
          { percentage: 90, latency: 3e6 },
          { percentage: 99, latency: 7.5e6 },
        ],
      },
    ),
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
  const summary = summaryFromGhz(ghzReport(0, { [refused]: 20 }), 20);
  assert.deepEqual(summary.byStatus, { '0': 20 });
  assert.equal(summary.latencyMs.p50, null);
  assert.equal(summary.latencyMs.max, null);
});

test('the calls ghz cuts at its deadline are left out, at most one per worker', () => {
  const closed =
    'rpc error: code = Unavailable desc = error reading from server: read tcp: use of closed network connection';
  const closing = 'rpc error: code = Canceled desc = grpc: the client connection is closing';
  const summary = summaryFromGhz(ghzReport(1000, { [closed]: 23, [closing]: 2 }), 20);
  assert.equal(summary.requests, 1005);
  assert.deepEqual(summary.byStatus, { '200': 1000, '0': 5 });
  assert.equal(summary.requestsPerSecond, 1005);
});
