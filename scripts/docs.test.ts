// README is the newcomer's manual: its configuration tables must list every key each service
// reads, with the default the schema really applies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { configTable } from '@recipe-mesh/platform/config';
import { faultKinds } from '@recipe-mesh/platform/faults';
import { durationBuckets } from '@recipe-mesh/platform/metrics';
import { recipeApiConfigSchema } from '../services/recipe-api/src/config.js';
import { webApiConfigSchema } from '../services/web-api/src/config.js';
import { driftedDocs, withGeneratedTable } from './gen-docs.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

for (const [service, schema] of [
  ['recipe-api', recipeApiConfigSchema],
  ['web-api', webApiConfigSchema],
] as const) {
  test(`README's configuration table for ${service} matches its schema`, () => {
    const section = readme.split(`### ${service} configuration`)[1]?.split('\n## ')[0]?.split('\n### ')[0] ?? '';
    assert.ok(section, `README has no "### ${service} configuration" section`);
    for (const row of configTable(schema).split('\n').slice(2)) {
      assert.ok(section.includes(row), `README ${service} table lacks or misstates:\n${row}`);
    }
  });
}

test('README shows the two commands a newcomer needs', () => {
  assert.match(readme, /make up/);
  assert.match(readme, /make test/);
});

test('the metrics tables of README and docs/contracts.md are what the metric catalogue generates', () => {
  assert.deepEqual(driftedDocs(), [], 'run make docs');
  // The generator must fail loudly, not skip, on a document that lost its markers.
  assert.throws(() => withGeneratedTable('x.md', '| name | type |'), /no generated metrics table markers/);
  const stale = withGeneratedTable('README.md', readme).replace('`cache_lookups_total`', '`cache_lookup_total`');
  assert.notEqual(withGeneratedTable('README.md', stale), stale, 'a hand-edited table would go unnoticed');
});

const contracts = readFileSync(new URL('../docs/contracts.md', import.meta.url), 'utf8');

test('docs/contracts.md lists exactly the fault_active kinds the fault schema defines', () => {
  const listed = contracts.split('Kinds for `fault_active{kind}`:')[1]?.split('\n\n')[0] ?? '';
  assert.ok(listed, 'docs/contracts.md has no fault_active kinds list');
  assert.deepEqual(
    [...listed.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]),
    faultKinds,
  );
});

test('docs/contracts.md states the histogram buckets the metrics use', () => {
  assert.ok(
    contracts.includes(`buckets ${durationBuckets.join(' ')} and`),
    'contracts.md buckets differ from durationBuckets',
  );
});
