import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertFound, requireBinary } from '@recipe-mesh/measure/binaries';
import { startPrivateLab } from '@recipe-mesh/lab/private-lab';
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

  // The names only, to declare one test per target before the lab (and its ports) exists.
  const names = labTargets({ ports: { recipeApi: 0 }, endpoints: { publicUrl: '' } } as never, '').map((t) => t.name);
  names.forEach((name, index) => {
    test(`${name} passes every check`, async (t) => {
      assertFound(schemathesis);
      const target = labTargets(lab.state, sdl.file)[index]!;
      const started = performance.now();
      const run = await runSchemathesis(schemathesis.path, target, testBudget);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      t.diagnostic(`${target.name}: ${run.summary} (${seconds} s)`);
      console.log(`schemathesis ${target.name}: ${run.summary} (${seconds} s)`);
      assert.equal(run.code, 0, `${target.name} failed:\n${run.output.slice(-6000)}`);
      assert.match(run.summary, /^\d+ generated, \d+ passed;/);
      if (target.operations) assert.match(run.output, /Stateful/i, 'the stateful phase ran');
    });
  });
});
