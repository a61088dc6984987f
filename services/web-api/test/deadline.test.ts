import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  callDeadline,
  callerDeadline,
  deadlineHeaders,
  parseBudgetMs,
  upstreamTimeoutHeader,
} from '../src/upstream/deadline.js';
import { unavailableError } from '../src/upstream/errors.js';
import { shouldRetry } from '../src/upstream/retry.js';
import { recordingCaller } from './support/recording-caller.js';

test("the caller's budget is a positive whole number of ms, or absent", () => {
  assert.equal(parseBudgetMs('1000'), 1000);
  assert.equal(parseBudgetMs(' 250 '), 250);
  for (const bad of [undefined, '', '0', '-5', '1.5', 'soon', '1e3', '9999999999'])
    assert.equal(parseBudgetMs(bad), undefined, JSON.stringify(bad));
});

test("the caller's deadline keeps a reserve for the way back; a call ends at whichever deadline is sooner", () => {
  assert.equal(callerDeadline(10_000, 1000, 50), 10_950);
  assert.equal(callerDeadline(10_000, 30, 50), 10_000, 'a budget smaller than the reserve is already spent');
  assert.equal(callerDeadline(10_000, undefined, 50), undefined);
  assert.equal(callDeadline(10_000, 2000, 10_950), 10_950, "the caller's 1 s budget beats web-api's own 2 s");
  assert.equal(callDeadline(10_000, 2000, 20_000), 12_000, 'a generous caller does not extend web-api’s own');
  assert.equal(callDeadline(10_000, 2000, undefined), 12_000);
});

test('the sidecar is told the time left, never 0 (which Envoy reads as "no timeout")', () => {
  assert.deepEqual(deadlineHeaders(10_950, 10_000), { [upstreamTimeoutHeader]: '950' });
  assert.deepEqual(deadlineHeaders(10_000, 10_400), { [upstreamTimeoutHeader]: '1' });
});

test('a retry starts only when its backoff and a whole minimal try fit in what is left', () => {
  const base = {
    error: unavailableError('http', 'ECONNREFUSED'),
    attempts: 1,
    retries: 2,
    idempotent: true,
    delayMs: 25,
    minTryMs: 100,
  };
  assert.equal(shouldRetry({ ...base, remainingMs: 125 }), true);
  assert.equal(shouldRetry({ ...base, remainingMs: 124 }), false, '99 ms would be left for the try');
});

test("the call ends at the caller's deadline when that is sooner than web-api's own", async () => {
  const { caller, observed } = recordingCaller(2, 2000, 50);
  const keepAlive = setTimeout(() => {}, 3000);
  const started = Date.now();
  let seen = 0;
  await assert.rejects(
    caller.call(
      { via: 'http', operation: 'getRecipe', idempotent: true },
      ({ deadline, deadlineSignal }) => {
        seen = deadline;
        return new Promise((_resolve, reject) =>
          deadlineSignal.addEventListener('abort', () => reject(deadlineSignal.reason)),
        );
      },
      started + 150,
    ),
    (error: Error & { status?: number }) => error.status === 504,
  );
  const elapsed = Date.now() - started;
  assert.equal(seen, started + 150, 'the attempt sees the caller’s deadline');
  assert.ok(elapsed >= 140 && elapsed < 1000, `ended after ${elapsed} ms, not web-api's 2 s`);
  assert.deepEqual(observed, ['timeout']);
  clearTimeout(keepAlive);
});

test('no attempt when the caller has already given up', async () => {
  const { caller, observed } = recordingCaller(2, 2000, 50);
  let attempts = 0;
  await assert.rejects(
    caller.call(
      { via: 'grpc', operation: 'getRecipe', idempotent: true },
      async () => {
        attempts++;
        return 'late';
      },
      Date.now() - 1,
    ),
    (error: Error & { status?: number }) => error.status === 504,
  );
  assert.equal(attempts, 0);
  assert.deepEqual(observed, []);
});

test('the retry loop stops when the remaining budget cannot fit another try', async () => {
  const { caller, observed } = recordingCaller(5, 2000, 100);
  const started = Date.now();
  let attempts = 0;
  await assert.rejects(
    caller.call(
      { via: 'http', operation: 'getRecipe', idempotent: true },
      async () => {
        attempts++;
        // Each failure takes 60 ms: after the first, 140 ms are left (retry), after the second ~55.
        await new Promise((r) => setTimeout(r, 60));
        throw unavailableError('http', 'ECONNRESET');
      },
      started + 200,
    ),
    (error: Error & { status?: number }) => error.status === 503,
  );
  assert.equal(attempts, 2, 'a third try would not fit 100 ms before the deadline');
  assert.deepEqual(observed, ['unavailable', 'unavailable']);
  assert.ok(Date.now() - started < 200, 'gave up before the caller did');
});
