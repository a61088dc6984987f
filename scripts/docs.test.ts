// README and docs/contracts.md carry tables generated from code (scripts/gen-docs.ts): a hand edit
// of any of them, or a source that changed without `make docs`, fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { repoPath } from '@recipe-mesh/measure/repo';
import { durationBuckets, faultKinds, services } from '@recipe-mesh/contracts/contracts';
import { catalogue } from '@recipe-mesh/experiments/catalogue';
import { beginMarker, driftedDocs, endMarker, generatedDocs, withGeneratedSections } from './gen-docs.js';

const read = (file: string) => readFileSync(repoPath(file), 'utf8');
const readme = read('README.md');
const contracts = read('docs/contracts.md');

/** The text between a generated section's markers. */
function section(text: string, name: string): string {
  const spec = Object.values(generatedDocs)
    .flat()
    .find((s) => s.name === name)!;
  const begin = text.indexOf(beginMarker(spec));
  assert.ok(begin >= 0, `no ${name} section`);
  const from = begin + beginMarker(spec).length;
  return text.slice(from, text.indexOf(endMarker(spec), from));
}

test('every generated section of README and docs/contracts.md is what its source gives', () => {
  assert.deepEqual(driftedDocs(), [], 'run make docs');
});

test('a hand edit of any generated section is seen, and a lost marker is an error', () => {
  for (const [file, sections] of Object.entries(generatedDocs)) {
    const text = read(file);
    for (const s of sections) {
      const body = section(text, s.name);
      // Change one character inside the section's first table row or list item.
      const edited = text.replace(body, body.replace(/`([a-z])/, '`X$1'));
      assert.notEqual(edited, text, `${file} ${s.name}: nothing to edit`);
      assert.notEqual(withGeneratedSections(file, edited), edited, `${file} ${s.name}: a hand edit goes unnoticed`);
    }
    const unmarked = text.replace(beginMarker(sections[0]!), '');
    assert.throws(() => withGeneratedSections(file, unmarked), /no generated .* markers/);
  }
});

test("README's experiments table lists every experiment of the catalogue", () => {
  const table = section(readme, 'experiments table');
  assert.deepEqual(
    [...table.matchAll(/^\| `([a-z0-9-]+)` \|/gm)].map((m) => m[1]),
    catalogue.map((e) => e.name),
  );
  assert.ok(catalogue.length >= 10);
});

test("README's configuration tables and docs/contracts.md name every key each service's schema reads", () => {
  for (const s of services) {
    const readmeTable = section(readme, `${s.name} configuration table`);
    const environment = section(contracts, 'environment table');
    for (const key of Object.keys(s.schema.shape)) {
      assert.ok(readmeTable.includes(`| \`${key}\` |`), `README ${s.name} lacks ${key}`);
      assert.ok(environment.includes(`| \`${key}\` |`), `docs/contracts.md lacks ${key}`);
    }
  }
  // The recipe-api keys a hand-kept list once missed.
  for (const key of ['GRAPHQL_MAX_COST', 'SCAN_COUNT', 'REDIS_RECONNECT_MAX_DELAY_MS', 'IDEMPOTENCY_TTL_SECONDS'])
    assert.match(section(contracts, 'environment table'), new RegExp(`\\| \`${key}\` \\|`));
});

test("docs/contracts.md lists exactly the fault_active kinds the services' fault schemas define", () => {
  const kinds = section(contracts, 'fault document table')
    .split('\n')
    .slice(3)
    .map((row) => /^\| `[^`]+` \| [^|]+ \| `([a-z_]+)` \|/.exec(row)?.[1]);
  assert.deepEqual(kinds.filter(Boolean), faultKinds);
  // The switches of one service are refused by the other (services/*/src/faults.ts).
  assert.match(section(contracts, 'fault document table'), /\| `idempotencyKeys` \| web-api \|/);
  assert.match(section(contracts, 'fault document table'), /\| `resetAfterCreate` \| recipe-api \|/);
});

test('docs/contracts.md states the histogram buckets the metrics use', () => {
  assert.ok(contracts.includes(`buckets ${durationBuckets.join(' ')} and`), 'contracts.md buckets differ');
});

test('README shows the two commands a newcomer needs', () => {
  assert.match(readme, /make up/);
  assert.match(readme, /make test/);
});

test('docs/architecture.md lays out every top-level workspace and states the Node the images run', () => {
  const architecture = read('docs/architecture.md');
  const rootPackage = JSON.parse(read('package.json')) as { workspaces: string[] };
  for (const workspace of rootPackage.workspaces.map((w) => w.split('/')[0]!))
    assert.match(architecture, new RegExp(`^${workspace}/`, 'm'), `layout lacks ${workspace}/`);
  const imageNode = /^ARG NODE_IMAGE=node:(\d+)\./m.exec(read('Dockerfile'))![1];
  assert.match(architecture, new RegExp(`images run Node ${imageNode}\\b`));
});
