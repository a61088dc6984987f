import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requireBinary } from '@recipe-mesh/measure/binaries';
import { startLabOnFreePorts } from '@recipe-mesh/lab/private-lab';
import { standIn, tempStateDir } from '../../lab/test/helpers.js';
import { rollout503 } from '../src/incidents/rollout-503.js';
import { RestoreStack } from '../src/restore.js';
import { connectLab } from '../src/targets/lab.js';
import { repoRoot } from '@recipe-mesh/measure/repo';

/**
 * The lab target against a lab run as the manifests say (stand-in apps, so only the lab is under
 * test): two instances of each service, a fault and its restore on every one of them by name, and
 * rollout-503's preStop removal for the run only.
 */

const envoy = requireBinary('envoy');
const kubectl = requireBinary('kubectl');
const skip = 'skip' in envoy ? envoy.skip : 'skip' in kubectl ? kubectl.skip : false;

async function faultsOf(adminUrl: string): Promise<unknown> {
  return (await fetch(`${adminUrl}/faults`, { signal: AbortSignal.timeout(5000) })).json();
}

test("the lab runs the manifests' two instances of each service; faults, their restore and rollout-503's preStop removal reach every one", {
  skip,
  timeout: 240_000,
}, async (t) => {
  const stateDir = tempStateDir(t);
  const { state } = await startLabOnFreePorts({
    root: repoRoot,
    stateDir,
    apps: { webApi: standIn('web-api'), recipeApi: standIn('recipe-api') },
    use: { redis: false, prometheus: false },
  });
  const instancesOf = (service: string) => state.processes.filter((p) => p.instance?.service === service);
  assert.deepEqual(
    instancesOf('recipe-api').map((p) => p.name),
    ['recipe-api', 'recipe-api-2'],
  );
  assert.deepEqual(
    instancesOf('web-api').map((p) => p.name),
    ['web-api', 'web-api-2'],
  );
  assert.equal(state.membership?.readiness['recipe-api']?.periodMs, 5000, "the manifests' readiness period");
  assert.deepEqual(state.manifests?.departures, []);

  const lab = await connectLab({ root: repoRoot, stateDir, start: false });
  assert.deepEqual(lab.departures, []);
  const restore = new RestoreStack();
  await lab.apply(rollout503.incidentSetup, restore);
  const recipeApis = await lab.target.instances.list('recipe-api');
  assert.equal(recipeApis.length, 2);
  for (const instance of recipeApis)
    assert.deepEqual(await faultsOf(instance.adminUrl), { gracefulShutdown: false }, instance.name);
  assert.ok(
    lab.applied.some((line) => line.includes('recipe-api faults') && line.endsWith('on recipe-api, recipe-api-2')),
    lab.applied.join('\n'),
  );
  assert.ok(lab.applied.some((line) => /recipe-api pods stopped without their preStop sleep \(3 s/.test(line)));

  // Deleted during the incident: SIGTERM at once, no preStop sleep.
  const added = await lab.target.instances.start('recipe-api');
  const abrupt = await lab.target.instances.delete(added.name);
  assert.equal(abrupt?.preStopMs, 0);

  assert.deepEqual(await restore.restoreAll(), []);
  for (const instance of await lab.target.instances.list('recipe-api'))
    assert.deepEqual(await faultsOf(instance.adminUrl), {}, `${instance.name} restored`);

  // After the run the Deployment's preStop sleep is back: SIGTERM comes after it.
  const next = await lab.target.instances.start('recipe-api');
  const graceful = await lab.target.instances.delete(next.name);
  assert.equal(graceful?.preStopMs, 3000);
});
