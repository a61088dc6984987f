import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertFound } from '../src/binaries.js';

test('assertFound passes a found binary through and fails a test body that runs without one', () => {
  const found: { path: string } | { skip: string } = { path: '/usr/bin/true' };
  assertFound(found);
  assert.equal(found.path, '/usr/bin/true');
  assert.throws(
    () => assertFound({ skip: 'promtool not found (apt-get install prometheus)' }),
    /promtool not found .*ran without the skip option/,
  );
});
