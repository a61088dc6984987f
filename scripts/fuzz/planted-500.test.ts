import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertFound, requireBinary } from '@recipe-mesh/measure/binaries';
import { startPlanted500App } from './fixtures/planted-500-app.js';
import { restChecks, runSchemathesis, testBudget } from './schemathesis.js';

// The fuzzing is only worth its time if it catches a broken handler: same checks, same budget
// and seed as `make test` uses against the lab, against a variant with a planted 500.
const schemathesis = requireBinary('schemathesis');

test('schemathesis catches a planted 500 in GET /recipes/{id}', {
  skip: 'skip' in schemathesis ? schemathesis.skip : false,
}, async (t) => {
  assertFound(schemathesis);
  const app = await startPlanted500App();
  t.after(() => app.close());
  const run = await runSchemathesis(
    schemathesis.path,
    { name: 'planted 500', location: `${app.url}/openapi.json`, checks: restChecks },
    testBudget,
  );
  t.diagnostic(run.summary);
  assert.notEqual(run.code, 0, `schemathesis passed a broken handler:\n${run.output.slice(-3000)}`);
  assert.match(run.output, /Server error/);
  assert.match(run.output, /_ GET \/recipes\/\{id\} _/);
  assert.match(run.output, /\[500\] Internal Server Error/);
  // Only the planted bug: every other operation of the same app passes.
  assert.doesNotMatch(run.output, /_ (POST|PUT) \/|_ GET \/recipes _/);
});
