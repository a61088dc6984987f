import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultMesh } from '@recipe-mesh/lab/mesh/description';
import { defaultPorts } from '@recipe-mesh/lab/ports';
import { compareSnapshots, type StateSnapshot } from '../src/leftovers.js';

const before = (): StateSnapshot => ({
  faults: { 'web-api': {}, 'recipe-api': {} },
  mesh: defaultMesh(defaultPorts),
  redisConfig: { 'slowlog-log-slower-than': '10000' },
  instances: { 'web-api': ['web-api'], 'recipe-api': ['recipe-api'] },
});

test('the state read back as it was before the run is clean, one check per fault document, mesh and Redis key', () => {
  const report = compareSnapshots(before(), before());
  assert.equal(report.clean, true);
  assert.deepEqual(
    report.checks.map((c) => c.what),
    [
      'web-api app faults',
      'recipe-api app faults',
      'mesh description (Envoy config)',
      'web-api instances',
      'recipe-api instances',
      'redis slowlog-log-slower-than',
    ],
  );
});

test('a fault still on, a changed mesh or a Redis setting not put back is named as left behind', () => {
  const after = before();
  after.faults['recipe-api'] = { keepAliveTimeoutMs: 500 };
  const faults = compareSnapshots(before(), after);
  assert.equal(faults.clean, false);
  assert.equal(faults.checks.find((c) => !c.ok)?.detail, '{"keepAliveTimeoutMs":500} now, {} before the run');

  const mesh = before();
  mesh.mesh = defaultMesh(defaultPorts, '1.23');
  assert.equal(compareSnapshots(before(), mesh).checks.find((c) => !c.ok)?.what, 'mesh description (Envoy config)');

  const redis = before();
  redis.redisConfig['slowlog-log-slower-than'] = '100';
  assert.equal(compareSnapshots(before(), redis).checks.find((c) => !c.ok)?.detail, '100 now, 10000 before the run');

  const scaled = before();
  scaled.instances['recipe-api'] = ['recipe-api', 'recipe-api-2'];
  assert.equal(
    compareSnapshots(before(), scaled).checks.find((c) => !c.ok)?.detail,
    '2 now (recipe-api, recipe-api-2), 1 before the run (recipe-api)',
  );
  const rolled = before();
  rolled.instances['recipe-api'] = ['recipe-api-3'];
  assert.ok(compareSnapshots(before(), rolled).clean, 'a rollout replaces pods under new names');
});
