import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertFound, requireBinary } from '@recipe-mesh/measure/binaries';
import { startPrivateLab } from '../../experiments/test/lab-fixture.js';
import { graphqlSdlFile, runSchemathesis, testBudget } from './schemathesis.js';
import { labTargets } from './targets.js';

/**
 * schemathesis against a private lab (free ports, own state dir): every check passes, with a
 * fixed seed and a bounded example count (`make fuzz` runs the same with a larger budget).
 */
const needed = ['envoy', 'redis-server', 'schemathesis'].map((name) => requireBinary(name));
const missing = needed.flatMap((r) => ('skip' in r ? [r.skip] : []));
const schemathesis = needed[2]!;

describe('schemathesis against the lab', { skip: missing.length ? missing.join('; ') : false }, () => {
  let lab: Awaited<ReturnType<typeof startPrivateLab>>;
  const sdl = graphqlSdlFile();
  before(async () => {
    lab = await startPrivateLab();
  });
  after(async () => {
    await lab?.stop();
    sdl.remove();
  });

  for (const index of [0, 1, 2]) {
    test(`target ${index + 1} of 3 passes every check`, async (t) => {
      assertFound(schemathesis);
      const target = labTargets(lab.state, sdl.file)[index]!;
      const run = await runSchemathesis(schemathesis.path, target, testBudget);
      t.diagnostic(`${target.name}: ${run.summary}`);
      console.log(`schemathesis ${target.name}: ${run.summary}`);
      assert.equal(run.code, 0, `${target.name} failed:\n${run.output.slice(-6000)}`);
      assert.match(run.summary, /^\d+ generated, \d+ passed;/);
    });
  }
});
