import assert from 'node:assert/strict';
import { test } from 'node:test';
import { judge, resources } from './judge.js';
import { floors, parseDuration, type Sample, slopePerMinute } from './slope.js';

test('slopePerMinute is the least-squares growth per minute, flat noise near 0', () => {
  const growing = Array.from({ length: 11 }, (_, i) => ({ atMs: i * 30_000, value: 100 + i * 5 }));
  assert.equal(slopePerMinute(growing), 10);
  const noisy = Array.from({ length: 20 }, (_, i) => ({ atMs: i * 30_000, value: 100 + (i % 2 ? 3 : -3) }));
  assert.ok(Math.abs(slopePerMinute(noisy)) < 0.5);
  assert.equal(slopePerMinute([{ atMs: 0, value: 1 }]), 0);
});

/** A heap that climbs by `allocatedPerSample` and falls back to its floor every `cycle` samples. */
function sawtooth(floorPerMinute: number, cycle: number, allocatedPerSample: number, samples = 300): Sample[] {
  return Array.from({ length: samples }, (_, i) => {
    const atMs = i * 2_000;
    return { atMs, value: 100 + (floorPerMinute * atMs) / 60_000 + (i % cycle) * allocatedPerSample };
  });
}

test('floors see through a GC sawtooth that fools a slope over raw samples', () => {
  // A flat floor whose cycle ends high at the end of the run: the raw slope reads growth.
  const flat = sawtooth(0, 37, 10);
  assert.ok(slopePerMinute(flat) > 2, 'the raw samples suggest growth');
  assert.ok(Math.abs(slopePerMinute(floors(flat, 8))) < 0.5, 'the floors do not');
  // A leak raises the floor, and the floors' slope recovers its rate.
  const leaking = sawtooth(10, 37, 10);
  assert.ok(Math.abs(slopePerMinute(floors(leaking, 8)) - 10) < 1.5);
});

test('floors take the minimum of each span of time', () => {
  const points = [5, 1, 7, 3, 9, 2, 8, 4].map((value, i) => ({ atMs: i * 1000, value }));
  assert.deepEqual(
    floors(points, 4).map((p) => p.value),
    [1, 3, 2, 4],
  );
  assert.deepEqual(floors([], 4), []);
});

test('judge fails a service whose floor grows past its bound, after the warm-up only', () => {
  const flat = Object.fromEntries(resources.map((r) => [r, sawtooth(0, 20, 1)]));
  const heapLeak = { ...flat, nodejs_heap_size_used_bytes: sawtooth(8 * 1024 * 1024, 20, 1) };
  // Growth inside the warm-up only (the first minute) is not judged.
  const warmingUp = {
    ...flat,
    process_open_fds: flat.process_open_fds!.map((p) => ({ ...p, value: p.value + Math.min(p.atMs, 60_000) / 1000 })),
  };
  const verdicts = judge({ healthy: flat, leaking: heapLeak, warming: warmingUp } as never, 60_000);
  const failed = verdicts.filter((v) => !v.ok).map((v) => `${v.service} ${v.resource}`);
  assert.deepEqual(failed, ['leaking nodejs_heap_size_used_bytes']);
});

test('parseDuration reads m, s and ms', () => {
  assert.equal(parseDuration('10m'), 600_000);
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration('1500'), 1500);
  assert.throws(() => parseDuration('ten minutes'));
});
