import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requireBinary } from '@recipe-mesh/measure/binaries';
import { readPodBehaviours } from '@recipe-mesh/lab/workloads/manifests';
import { stallMsFor } from '../src/incidents/no-healthy-upstream.js';
import { rollout503 } from '../src/incidents/rollout-503.js';
import {
  concurrentUploads,
  copiesAtPeak,
  limitedGrowthBytes,
  memoryBudgetBytes,
  oversizedBytes,
  uploadLimitBytes,
} from '../src/incidents/upload-oom.js';
import { loadRecipeApiConfig } from '@recipe-mesh/recipe-api/config';
import { repoRoot } from '@recipe-mesh/measure/repo';

/** Faults sized from the manifests mean the same on the lab and on the cluster (docs/experiments.md). */

const kubectl = requireBinary('kubectl');
const skip = 'skip' in kubectl ? kubectl.skip : false;

test("no-healthy-upstream's Redis stall outlasts recipe-api's readiness probe failing on every replica", {
  skip,
}, () => {
  const readiness = readPodBehaviours(repoRoot).services['recipe-api'].readiness!;
  const stall = stallMsFor(readiness);
  assert.ok(
    stall > readiness.periodMs * readiness.failureThreshold + readiness.timeoutMs,
    `stall ${stall} ms vs probe every ${readiness.periodMs} ms × ${readiness.failureThreshold} + ${readiness.timeoutMs} ms`,
  );
  assert.ok(stallMsFor({ ...readiness, periodMs: readiness.periodMs * 2 }) > stall, 'a slower probe, a longer stall');
});

test("rollout-503's incident removes recipe-api's preStop sleep; its fixes keep it", () => {
  assert.deepEqual(rollout503.incidentSetup.withoutPreStop, ['recipe-api']);
  for (const fix of rollout503.fixes) assert.deepEqual(fix.setup.withoutPreStop ?? [], [], fix.name);
});

test("upload-oom's uploads fit recipe-api's memory limit with its NODE_OPTIONS heap, so growth is the signal on both targets", {
  skip,
}, () => {
  const pod = readPodBehaviours(repoRoot).services['recipe-api'];
  const budget = memoryBudgetBytes(pod.env.NODE_OPTIONS ?? '');
  assert.ok(Number.isFinite(budget), `NODE_OPTIONS ${pod.env.NODE_OPTIONS} names the old and semi space`);
  const peak = budget + concurrentUploads * oversizedBytes * copiesAtPeak;
  assert.ok(pod.memoryLimitBytes !== null);
  assert.ok(
    peak <= pod.memoryLimitBytes,
    `${peak / 2 ** 20} MiB at the peak against the ${pod.memoryLimitBytes / 2 ** 20} MiB limit`,
  );
  // The limit the fix enforces is recipe-api's own default, and no manifest overrides it.
  assert.equal(uploadLimitBytes, loadRecipeApiConfig({}).UPLOAD_MAX_BYTES);
  assert.equal(pod.env.UPLOAD_MAX_BYTES ?? String(uploadLimitBytes), String(uploadLimitBytes));
  assert.ok(oversizedBytes > uploadLimitBytes, 'over the upload limit, so the fix answers 413');
  // The fix's bar stays clear of what the incident buffers (a whole copy of every upload).
  assert.ok(limitedGrowthBytes <= (concurrentUploads * oversizedBytes) / 2, 'uploads at least twice the limit');
});
