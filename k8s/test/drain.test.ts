import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readContracts } from './lib/contracts.js';
import { drainProblems, requiredGraceSeconds } from './lib/drain.js';
import { meshInstall } from './lib/istio-install.js';
import { buildCombination, buildDefault, combinations } from './lib/kustomize.js';
import { find } from './lib/objects.js';

const contracts = readContracts();
const install = meshInstall();

function recipeApi(change: (pod: any, container: any) => void) {
  const objects = buildDefault();
  const deployment = find(objects, 'Deployment', 'recipe-api')!;
  change(deployment.spec.template.spec, deployment.spec.template.spec.containers[0]);
  return objects;
}
const setEnv = (container: any, name: string, value: string) => {
  container.env = container.env.filter((e: any) => e.name !== name).concat(value === '' ? [] : [{ name, value }]);
};

describe('drain settings, preStop and grace period agree', () => {
  for (const combination of combinations()) {
    test(`holds in ${combination.name}`, () => {
      assert.deepEqual(drainProblems(buildCombination(combination), contracts, install), []);
    });
  }

  test('the budget adds preStop, drain delay, timeout and headroom', () => {
    assert.equal(requiredGraceSeconds({ preStopSeconds: 3, drainDelayMs: 5000, timeoutMs: 10000 }), 23);
    assert.equal(requiredGraceSeconds({ preStopSeconds: 0, drainDelayMs: 1, timeoutMs: 0 }), 6);
  });

  test('fails when the grace period is shorter than the budget', () => {
    const objects = recipeApi((pod) => {
      pod.terminationGracePeriodSeconds = 20;
    });
    assert.match(drainProblems(objects, contracts, install).join(), /terminationGracePeriodSeconds 20 < .* = 23 s/);
  });

  test('fails when the drain delay grows past the grace period', () => {
    const objects = recipeApi((_pod, c) => setEnv(c, 'SHUTDOWN_DRAIN_DELAY_MS', '20000'));
    assert.match(drainProblems(objects, contracts, install).join(), /drain 20000 ms/);
  });

  test('uses the contract defaults when the variables are unset', () => {
    const fits = recipeApi((pod, c) => {
      setEnv(c, 'SHUTDOWN_DRAIN_DELAY_MS', '');
      setEnv(c, 'SHUTDOWN_TIMEOUT_MS', '');
      pod.terminationGracePeriodSeconds = 23;
    });
    assert.deepEqual(drainProblems(fits, contracts, install), []);
    const short = recipeApi((pod, c) => {
      setEnv(c, 'SHUTDOWN_TIMEOUT_MS', '');
      pod.terminationGracePeriodSeconds = 22;
    });
    assert.match(drainProblems(short, contracts, install).join(), /timeout 10000 ms/);
  });

  test('counts the default grace period (30 s) when none is written', () => {
    const objects = recipeApi((pod, c) => {
      delete pod.terminationGracePeriodSeconds;
      c.lifecycle.preStop.sleep.seconds = 10;
    });
    // 10 + 5 + 10 + 5 = 30 fits exactly; one second more does not.
    assert.deepEqual(drainProblems(objects, contracts, install), []);
    find(objects, 'Deployment', 'recipe-api')!.spec.template.spec.containers[0].lifecycle.preStop.sleep.seconds = 11;
    assert.match(drainProblems(objects, contracts, install).join(), /terminationGracePeriodSeconds 30 < .* = 31 s/);
  });

  test('fails without a preStop sleep', () => {
    const objects = recipeApi((_pod, c) => {
      c.lifecycle.preStop = { exec: { command: ['sleep', '3'] } };
    });
    assert.match(drainProblems(objects, contracts, install).join(), /no preStop sleep/);
  });

  test('fails when the sidecar is not a native sidecar', () => {
    assert.match(
      drainProblems(buildDefault(), contracts, { ...install, nativeSidecars: false }).join(),
      /ENABLE_NATIVE_SIDECARS/,
    );
  });
});
