import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCli, UsageError } from '../src/args.js';
import { formatRepeats, summarizeRepeats, wilsonInterval } from '../src/repeat.js';

test('Wilson interval: known values, and sane at 0/N and N/N', () => {
  const half = wilsonInterval(5, 10);
  assert.ok(Math.abs(half.lower - 0.2366) < 0.001 && Math.abs(half.upper - 0.7634) < 0.001, JSON.stringify(half));
  const all = wilsonInterval(5, 5);
  assert.equal(all.upper, 1);
  assert.ok(all.lower > 0.5 && all.lower < 0.6, `${all.lower}`);
  assert.equal(wilsonInterval(0, 5).lower, 0);
  assert.deepEqual(wilsonInterval(0, 0), { lower: 0, upper: 1 });
});

test('repeats report reproduced k/N with every outcome', () => {
  const s = summarizeRepeats([
    { outcome: 'incident', held: true },
    { outcome: 'inconclusive', held: false },
    { outcome: 'incident', held: true },
    { outcome: 'error', held: false },
  ]);
  assert.equal(s.reproduced, 2);
  assert.equal(s.runs, 4);
  assert.match(
    formatRepeats(s),
    /^reproduced 2\/4 \(95 % interval \d+ %–\d+ %\): incident, inconclusive, incident, error$/,
  );
});

test('--repeat takes a whole number ≥ 1', () => {
  const run = parseCli(['503-uc', '--repeat', '3']);
  assert.ok(run.kind === 'run' && run.repeat === 3);
  const once = parseCli(['503-uc']);
  assert.ok(once.kind === 'run' && once.repeat === 1);
  assert.throws(() => parseCli(['503-uc', '--repeat', '0']), UsageError);
  assert.throws(() => parseCli(['503-uc', '--repeat', 'many']), UsageError);
});
