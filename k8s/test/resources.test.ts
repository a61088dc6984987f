import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { makeVariables } from './lib/images.js';
import { meshInstall } from './lib/istio-install.js';
import { buildCombination, buildDefault, combinations } from './lib/kustomize.js';
import { find } from './lib/objects.js';
import { budgetProblems, heapCapProblems, parseMinikubeSize, platformTotals } from './lib/resources.js';

const vars = makeVariables();
const machine = parseMinikubeSize(vars.MINIKUBE_CPUS!, vars.MINIKUBE_MEMORY!);
const install = meshInstall();

describe('the platform fits the minikube of make minikube-up', () => {
  test('make minikube-up asks for 4 CPUs and 8 GiB', () => {
    assert.deepEqual(machine, { cpuMillis: 4000, memoryBytes: 8 * 2 ** 30 });
    assert.deepEqual(parseMinikubeSize('2', '4096'), { cpuMillis: 2000, memoryBytes: 4 * 2 ** 30 });
  });

  for (const combination of combinations().filter((c) => !c.components.some((p) => p.includes('faults')))) {
    test(`${combination.name}: requests and memory limits, sidecars and control plane included`, () => {
      const totals = platformTotals(buildCombination(combination), install);
      assert.ok(totals.requestCpuMillis > 500, 'sums something');
      assert.deepEqual(budgetProblems(totals, machine), []);
    });
  }

  test('counts a sidecar for each meshed replica', () => {
    const objects = buildDefault();
    const base = platformTotals(objects, install).requestCpuMillis;
    find(objects, 'Deployment', 'web-api')!.spec.replicas = 3;
    // one more web-api pod: its container (100m) and its sidecar (20m)
    assert.equal(platformTotals(objects, install).requestCpuMillis - base, 120);
  });

  test('fails when the pods ask for more than the node has', () => {
    const objects = buildDefault();
    find(objects, 'Deployment', 'recipe-api')!.spec.template.spec.containers[0].resources.requests.cpu = '2';
    assert.match(budgetProblems(platformTotals(objects, install), machine).join(), /CPU requests .* exceed/);
    find(objects, 'Deployment', 'tempo')!.spec.template.spec.containers[0].resources.limits.memory = '4Gi';
    assert.match(budgetProblems(platformTotals(objects, install), machine).join(), /memory limits .* exceed/);
  });

  test('fails on a smaller machine', () => {
    assert.match(
      budgetProblems(platformTotals(buildDefault(), install), parseMinikubeSize('2', '4g')).join(),
      /exceed/,
    );
  });
});

describe('each service caps its V8 heap under its memory limit', () => {
  test('web-api and recipe-api set NODE_OPTIONS heap caps that fit their limits', () => {
    assert.deepEqual(heapCapProblems(buildDefault()), []);
  });

  test('fails when the limit is below the heap cap, or the caps are missing', () => {
    const objects = buildDefault();
    find(objects, 'Deployment', 'recipe-api')!.spec.template.spec.containers[0].resources.limits.memory = '128Mi';
    assert.match(heapCapProblems(objects).join(), /recipe-api.*exceeds the memory limit 128Mi/);
    const env = find(objects, 'Deployment', 'web-api')!.spec.template.spec.containers[0].env;
    env.splice(
      env.findIndex((e: { name: string }) => e.name === 'NODE_OPTIONS'),
      1,
    );
    assert.match(heapCapProblems(objects).join(), /web-api.*sets no --max-old-space-size/);
  });
});
