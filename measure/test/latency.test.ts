import assert from 'node:assert/strict';
import { test } from 'node:test';
import { percentile, ratio, summarizeLatency } from '../src/latency.js';

test('nearest-rank percentiles', () => {
  const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted on purpose
  assert.equal(percentile(values, 50), 50);
  assert.equal(percentile(values, 99), 99);
  assert.equal(percentile(values, 100), 100);
  assert.equal(percentile([7], 99), 7);
  assert.equal(percentile([], 50), null);
  const s = summarizeLatency([1, 2, 3, 4, 1000]);
  assert.equal(s.count, 5);
  assert.equal(s.p50, 3);
  assert.equal(s.p99, 1000);
  assert.equal(s.max, 1000);
});

test('ratio is null without a usable baseline', () => {
  assert.equal(ratio(10, 2), 5);
  assert.equal(ratio(10, 0), null);
  assert.equal(ratio(null, 2), null);
});

test('an empty input is no data, never zero', () => {
  assert.deepEqual(summarizeLatency([]), { count: 0, p50: null, p90: null, p99: null, max: null, mean: null });
  assert.equal(summarizeLatency([4, 2]).mean, 3);
});
