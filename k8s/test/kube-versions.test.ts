import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { pins } from '../kube/versions.js';
import { makeVariables } from './lib/images.js';
import { repoPath } from './lib/repo.js';

/** k8s/kube/versions.ts is the one list of pins: the wrapper modules and make/k8s.mk agree with it. */
const goMod = (name: string) => readFileSync(repoPath('k8s/kube/go', name, 'go.mod'), 'utf8');
const minor = (version: string) => version.replace(/^v/, '').split('.').slice(0, 2).join('.');

describe('the local control plane pins', () => {
  test('Kubernetes has the minor version make minikube-up starts', () => {
    assert.equal(minor(pins.kubernetes), minor(makeVariables().MINIKUBE_K8S_VERSION!));
  });

  test('the Kubernetes wrapper requires the pin and replaces every staging module with its release', () => {
    const mod = goMod('kubernetes');
    assert.match(mod, new RegExp(`^(require |\\t)k8s\\.io/kubernetes ${pins.kubernetes.replace(/\./g, '\\.')}$`, 'm'));
    assert.equal(pins.kubernetesStaging, pins.kubernetes.replace(/^v1\./, 'v0.'));
    const replaces = [...mod.matchAll(/^\t(k8s\.io\/[a-z-]+) => (k8s\.io\/[a-z-]+) (v\S+)$/gm)];
    assert.equal(replaces.length, 31);
    for (const [, from, to, version] of replaces) {
      assert.equal(to, from);
      assert.equal(version, pins.kubernetesStaging, from);
    }
  });

  test('the etcd wrapper requires the pin', () => {
    assert.match(
      goMod('etcd'),
      new RegExp(`^(require |\\t)go\\.etcd\\.io/etcd/server/v3 ${pins.etcd.replace(/\./g, '\\.')}$`, 'm'),
    );
  });

  test('docs/kubernetes.md names the Istio pseudo-version CI uses', () => {
    assert.ok(readFileSync(repoPath('docs/kubernetes.md'), 'utf8').includes(pins.istio));
  });
});
