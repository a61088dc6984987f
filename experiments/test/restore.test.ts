import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RestoreStack } from '../src/restore.js';

test('restores newest first, keeps going past failures, runs each step once', async () => {
  const stack = new RestoreStack();
  const order: string[] = [];
  stack.push('first', async () => void order.push('first'));
  stack.push('broken', async () => {
    throw new Error('boom');
  });
  stack.push('last', async () => void order.push('last'));
  const [a, b] = await Promise.all([stack.restoreAll(), stack.restoreAll()]);
  assert.deepEqual(order, ['last', 'first']);
  assert.deepEqual(a, ['broken: boom']);
  assert.equal(a, b);
  assert.equal(stack.size, 0);
  assert.deepEqual(await stack.restoreAll(), []);
  assert.deepEqual(order, ['last', 'first']);
});

test('a signal restores, then exits with 130', async () => {
  const stack = new RestoreStack();
  let restored = false;
  stack.push('fault', async () => {
    restored = true;
  });
  const exited = new Promise<number>((resolve) => {
    const remove = stack.restoreOnSignals(
      () => {},
      (code) => {
        remove();
        resolve(code);
      },
    );
  });
  process.emit('SIGINT', 'SIGINT');
  assert.equal(await exited, 130);
  assert.equal(restored, true);
});

test('a restore waits for a change in flight, then undoes it; later changes are refused', async () => {
  const stack = new RestoreStack();
  let fault = 'off';
  let landChange!: () => void;
  const changing = stack.change(
    'fault',
    async () => void (fault = 'off'),
    () =>
      new Promise<void>((resolve) => {
        landChange = () => {
          fault = 'on';
          resolve();
        };
      }),
  );
  // Ctrl-C while the PUT is still on the wire: the restore must not finish before it lands.
  const restoring = stack.restoreAll();
  let restoreDone = false;
  void restoring.then(() => (restoreDone = true));
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(restoreDone, false, 'restore finished while a change was in flight');
  landChange();
  await changing;
  assert.deepEqual(await restoring, []);
  assert.equal(fault, 'off', 'the fault that landed during the restore stayed on');
  await assert.rejects(
    stack.change(
      'late',
      async () => {},
      async () => void (fault = 'on'),
    ),
    /being restored/,
  );
  assert.equal(fault, 'off');
});
