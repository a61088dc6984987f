import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration, slopePerMinute } from './slope.js';

test('slopePerMinute is the least-squares growth per minute, flat noise near 0', () => {
  const growing = Array.from({ length: 11 }, (_, i) => ({ atMs: i * 30_000, value: 100 + i * 5 }));
  assert.equal(slopePerMinute(growing), 10);
  const noisy = Array.from({ length: 20 }, (_, i) => ({ atMs: i * 30_000, value: 100 + (i % 2 ? 3 : -3) }));
  assert.ok(Math.abs(slopePerMinute(noisy)) < 0.5);
  assert.equal(slopePerMinute([{ atMs: 0, value: 1 }]), 0);
});

test('parseDuration reads m, s and ms', () => {
  assert.equal(parseDuration('10m'), 600_000);
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration('1500'), 1500);
  assert.throws(() => parseDuration('ten minutes'));
});
