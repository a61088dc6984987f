import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isReconciled, reconciledStatus, type StatusedObject, waitForMeshPush } from '../src/k8s-mesh-push.js';

const vs = (generation: number, status?: StatusedObject['status']): StatusedObject => ({
  kind: 'VirtualService',
  metadata: { name: 'web-api-ingress', generation },
  ...(status ? { status } : {}),
});
const reconciledAt = (observedGeneration: number | string, state = 'True') => ({
  observedGeneration,
  conditions: [{ type: 'Reconciled', status: state }],
});

test('Reconciled counts only at the current generation, with observedGeneration as number or string', () => {
  assert.equal(isReconciled(vs(3, reconciledAt(3))), true);
  assert.equal(isReconciled(vs(3, reconciledAt('3'))), true);
  // The push of generation 2 was acknowledged; generation 3 (make fault) not yet.
  assert.equal(isReconciled(vs(3, reconciledAt(2))), false);
  assert.equal(isReconciled(vs(3, reconciledAt(3, 'False'))), false);
  assert.equal(isReconciled(vs(3)), false);
  assert.equal(isReconciled({ ...vs(4), ...reconciledStatus(vs(4), 'pushed') }), true);
});

test('waits until every object is Reconciled at its generation', async () => {
  const answers = [[vs(3, reconciledAt(2))], [vs(3, reconciledAt(2))], [vs(3, reconciledAt(3))]];
  let calls = 0;
  const push = await waitForMeshPush(async () => answers[Math.min(calls++, answers.length - 1)]!, { intervalMs: 1 });
  assert.equal(push.confirmed, true);
  assert.equal(calls, 3);
});

test('a push that never arrives fails the run, naming the object', async () => {
  await assert.rejects(
    waitForMeshPush(async () => [vs(3, reconciledAt(2))], { timeoutMs: 20, intervalMs: 1 }),
    /VirtualService\/web-api-ingress not Reconciled/,
  );
});

test('a cluster that reports no status cannot confirm: a note, no wait', async () => {
  const push = await waitForMeshPush(async () => [vs(3)], { timeoutMs: 10_000 });
  assert.equal(push.confirmed, false);
  assert.match(push.note, /PILOT_ENABLE_STATUS/);
});
