import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { requireBinary } from '@recipe-mesh/measure/binaries';
import { afterProbe, initialProbeState } from '../src/membership/probe.js';
import { overlayInputs } from '../src/workloads/kustomize.js';
import { memoryBytes, readPodBehaviours, type ProbeTiming } from '../src/workloads/manifests.js';
import { planPods } from '../src/workloads/pods-plan.js';
import { baseReadiness } from './helpers.js';
import { repoRoot } from '@recipe-mesh/measure/repo';

const kubectl = requireBinary('kubectl');

/** The files the overlay reads, copied to a temp root (so a test may change them), removed after. */
function manifestsCopy(t: { after(fn: () => void): void }): string {
  const root = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-manifests-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const dir of overlayInputs) cpSync(path.join(repoRoot, dir), path.join(root, dir), { recursive: true });
  return root;
}

test('the lab runs what k8s/overlays/minikube says: two instances of each service, their probes, preStop, grace, limit and NODE_OPTIONS', {
  skip: 'skip' in kubectl ? kubectl.skip : false,
}, () => {
  const plan = planPods(repoRoot, { replicas: {}, mesh: true });
  assert.deepEqual(plan.replicas, { 'web-api': 2, 'recipe-api': 2 });
  assert.deepEqual(plan.departures, []);
  const recipeApi = plan.pods['recipe-api'];
  assert.deepEqual(recipeApi.readiness, baseReadiness);
  assert.equal(recipeApi.liveness?.path, '/livez');
  assert.equal(recipeApi.preStopSleepMs, 3000);
  assert.equal(recipeApi.terminationGracePeriodMs, 30_000);
  assert.equal(recipeApi.memoryLimitBytes, 320 * 2 ** 20);
  assert.match(recipeApi.env.NODE_OPTIONS ?? '', /--max-old-space-size=128/);
  assert.equal(recipeApi.env.SHUTDOWN_DRAIN_DELAY_MS, '5000');
  assert.equal(plan.pods['web-api'].memoryLimitBytes, 224 * 2 ** 20);
});

test('changing a probe period, replicas or preStop in k8s/base changes what the lab runs (a temp copy of the manifests)', {
  skip: 'skip' in kubectl ? kubectl.skip : false,
}, (t) => {
  const root = manifestsCopy(t);
  const file = path.join(root, 'k8s/base/deployment-recipe-api.yaml');
  const yaml = readFileSync(file, 'utf8');
  const changed = yaml
    .replace(/(readinessProbe:\n(?:.*\n)*?\s+periodSeconds: )5\n/, '$17\n')
    .replace('replicas: 2', 'replicas: 3')
    .replace(/(sleep:\n\s+seconds: )3/, '$14');
  assert.notEqual(changed, yaml);
  writeFileSync(file, changed);
  const plan = planPods(root, { replicas: {}, mesh: true });
  assert.equal(plan.pods['recipe-api'].readiness?.periodMs, 7000);
  assert.equal(plan.pods['recipe-api'].liveness?.periodMs, 10_000, 'only the readiness probe changed');
  assert.equal(plan.replicas['recipe-api'], 3);
  assert.equal(plan.pods['recipe-api'].preStopSleepMs, 4000);
  assert.equal(plan.pods['web-api'].readiness?.periodMs, 5000);
});

test('fewer replicas than the manifests, or a faster probe, are lab options that the lab states', {
  skip: 'skip' in kubectl ? kubectl.skip : false,
}, () => {
  const plan = planPods(repoRoot, { replicas: { 'recipe-api': 1 }, mesh: true, probePeriodMs: 500 });
  assert.equal(plan.replicas['recipe-api'], 1);
  assert.equal(plan.replicas['web-api'], 2);
  assert.equal(plan.pods['recipe-api'].readiness?.periodMs, 500);
  assert.ok(plan.departures.some((l) => /recipe-api runs 1 instance, the manifests 2/.test(l)));
  assert.ok(plan.departures.some((l) => /probed every 500 ms, the manifests every 5000 ms/.test(l)));
});

test('without kubectl or kustomize the lab says loudly that it ignores the manifests', (t) => {
  const root = manifestsCopy(t);
  // A fresh content key, so no cached render answers for it.
  writeFileSync(path.join(root, 'k8s/base/notes.txt'), `${Date.now()}\n`);
  const saved = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GOBIN: process.env.GOBIN,
    GOPATH: process.env.GOPATH,
  };
  process.env.PATH = path.join(root, 'no-bin');
  process.env.HOME = root;
  delete process.env.GOBIN;
  delete process.env.GOPATH;
  try {
    const notices: string[] = [];
    const behaviours = readPodBehaviours(root, notices);
    assert.match(notices.join('\n'), /neither kubectl nor kustomize is on PATH.*IGNORES THE MANIFESTS/s);
    assert.equal(behaviours.services['recipe-api'].replicas, 1);
    assert.equal(behaviours.services['recipe-api'].readiness, null);
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
});

test('memory quantities in bytes', () => {
  assert.equal(memoryBytes('256Mi'), 268_435_456);
  assert.equal(memoryBytes('1G'), 1e9);
  assert.equal(memoryBytes('128974848'), 128_974_848);
  assert.throws(() => memoryBytes('lots'));
});

test('readiness as the kubelet keeps it: not ready until a pass, failureThreshold failures in a row to drop, successThreshold passes to return', () => {
  const probe: ProbeTiming = baseReadiness;
  let state = initialProbeState(0, probe);
  assert.equal(state.ready, false);
  assert.equal(state.dueAt, 0);
  state = afterProbe(state, true, 0, probe);
  assert.equal(state.ready, true);
  assert.equal(state.dueAt, 5000);
  state = afterProbe(state, false, 5000, probe);
  assert.equal(state.ready, true, 'one failure of two keeps the endpoint');
  state = afterProbe(state, true, 10_000, probe);
  state = afterProbe(state, false, 15_000, probe);
  assert.equal(state.ready, true, 'failures must be in a row');
  state = afterProbe(state, false, 20_000, probe);
  assert.equal(state.ready, false, 'the second failure in a row drops it');
  const twoPasses = { ...probe, successThreshold: 2 };
  state = afterProbe(state, true, 25_000, twoPasses);
  assert.equal(state.ready, false);
  state = afterProbe(state, true, 30_000, twoPasses);
  assert.equal(state.ready, true);
});
