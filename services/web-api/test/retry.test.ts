import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromHttpStatus, timeoutError, unavailableError } from '../src/upstream/errors.js';
import { backoffMs, shouldRetry } from '../src/upstream/retry.js';
import { recordingCaller } from './support/recording-caller.js';

const unavailable = unavailableError('http', 'ECONNREFUSED');

test('retries only idempotent calls, only retryable failures, at most `retries` times, within the deadline', () => {
  const base = {
    error: unavailable,
    attempts: 1,
    retries: 2,
    idempotent: true,
    remainingMs: 1000,
    delayMs: 25,
    minTryMs: 1,
  };
  assert.equal(shouldRetry(base), true);
  assert.equal(shouldRetry({ ...base, attempts: 2 }), true);
  assert.equal(shouldRetry({ ...base, attempts: 3 }), false, 'two retries = three attempts');
  assert.equal(shouldRetry({ ...base, idempotent: false }), false, 'a POST without Idempotency-Key is never repeated');
  assert.equal(shouldRetry({ ...base, error: timeoutError('http') }), false, 'a timeout is not retried');
  assert.equal(shouldRetry({ ...base, error: fromHttpStatus(404, undefined, 'http') }), false);
  assert.equal(shouldRetry({ ...base, error: fromHttpStatus(503, undefined, 'http') }), true);
  assert.equal(shouldRetry({ ...base, remainingMs: 20 }), false, 'no retry the deadline cannot fit');
  assert.equal(shouldRetry({ ...base, retries: 0 }), false);
  assert.equal(shouldRetry({ ...base, error: new Error('not mapped') }), false);
});

test('backoff is small, grows, and is jittered', () => {
  assert.equal(
    backoffMs(1, () => 0),
    13,
  );
  assert.equal(
    backoffMs(1, () => 1),
    25,
  );
  assert.equal(
    backoffMs(2, () => 1),
    50,
  );
  assert.equal(
    backoffMs(10, () => 1),
    200,
    'capped',
  );
  for (let i = 0; i < 100; i++) {
    const delay = backoffMs(3);
    assert.ok(delay >= 50 && delay <= 100, `attempt 3 waits 50..100 ms, got ${delay}`);
  }
});

test('the caller repeats an idempotent call after UNAVAILABLE and records every attempt', async () => {
  const { caller, observed } = recordingCaller(2);
  let attempts = 0;
  const result = await caller.call({ via: 'grpc', operation: 'getRecipe', idempotent: true }, async ({ number }) => {
    attempts++;
    assert.equal(number, attempts);
    if (attempts < 3) throw unavailableError('grpc', 'UNAVAILABLE');
    return 'ok';
  });
  assert.equal(result, 'ok');
  assert.equal(attempts, 3);
  assert.deepEqual(observed, ['unavailable', 'unavailable', 'success']);
});

test('the caller gives up after the last retry with the mapped error', async () => {
  const { caller, observed } = recordingCaller(1);
  let attempts = 0;
  await assert.rejects(
    caller.call({ via: 'http', operation: 'getRecipe', idempotent: true }, async () => {
      attempts++;
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    }),
    (error: Error & { status?: number }) => error.status === 503,
  );
  assert.equal(attempts, 2);
  assert.deepEqual(observed, ['unavailable', 'unavailable']);
});

test('the caller sends a non-idempotent call once', async () => {
  const { caller } = recordingCaller(2);
  let attempts = 0;
  await assert.rejects(
    caller.call({ via: 'http', operation: 'createRecipe', idempotent: false }, async () => {
      attempts++;
      throw unavailable;
    }),
  );
  assert.equal(attempts, 1);
});

test('one deadline covers all attempts: its signal aborts with a TimeoutError mapped to 504', async () => {
  const { caller, observed } = recordingCaller(5, 150);
  // AbortSignal.timeout's timer does not keep the process alive (a socket would, in real use).
  const keepAlive = setTimeout(() => {}, 2000);
  const started = Date.now();
  let attempts = 0;
  await assert.rejects(
    caller.call({ via: 'http', operation: 'getRecipe', idempotent: true }, ({ deadlineSignal }) => {
      attempts++;
      if (attempts === 1) return Promise.reject(unavailable);
      // A hanging answer: only the deadline ends it.
      return new Promise((_resolve, reject) =>
        deadlineSignal.addEventListener('abort', () => reject(deadlineSignal.reason)),
      );
    }),
    (error: Error & { status?: number }) => error.status === 504,
  );
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 140 && elapsed < 600, `gave up at the deadline, after ${elapsed} ms`);
  assert.equal(attempts, 2);
  assert.deepEqual(observed, ['unavailable', 'timeout']);
  clearTimeout(keepAlive);
});
