import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countOutcomes, flagsKey, outcomeKey, parseResponseFlags } from '../src/outcomes.js';

test('response flags: `-`, empty and absent are none; a list splits on commas', () => {
  assert.deepEqual(parseResponseFlags('-'), []);
  assert.deepEqual(parseResponseFlags(''), []);
  assert.deepEqual(parseResponseFlags(undefined), []);
  assert.deepEqual(parseResponseFlags('URX,UF'), ['URX', 'UF']);
});

test('outcomes are keyed `status flags` and counted most frequent first', () => {
  assert.equal(outcomeKey(503, ['UC']), '503 UC');
  assert.equal(outcomeKey(200, []), '200 -');
  assert.equal(flagsKey(['URX', 'UF']), 'URX,UF');
  const counts = countOutcomes([
    { status: 200, flags: [] },
    { status: 503, flags: ['UC'] },
    { status: 503, flags: ['UC'] },
    { status: 0, flags: ['DC'] },
  ]);
  assert.deepEqual(Object.entries(counts), [
    ['503 UC', 2],
    ['200 -', 1],
    ['0 DC', 1],
  ]);
});
