import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { buildCombination, combinations, kustomizeBuild } from './lib/kustomize.js';
import { readIstioOperator } from './lib/istio-install.js';
import { clone } from './lib/objects.js';
import { repoPath } from './lib/repo.js';
import { apiVersionProblems, schemaProblems } from './lib/schema.js';

describe('kustomize builds', () => {
  test('k8s/base builds on its own', () => {
    const objects = kustomizeBuild(repoPath('k8s/base'));
    assert.ok(objects.some((o) => o.kind === 'Deployment' && o.metadata.name === 'web-api'));
  });

  for (const combination of combinations()) {
    test(`overlay minikube + [${combination.components.join(', ')}] builds, every object valid`, () => {
      const objects = buildCombination(combination);
      assert.ok(objects.length > 20, `only ${objects.length} objects`);
      assert.deepEqual(objects.flatMap(schemaProblems), []);
      assert.deepEqual(objects.flatMap(apiVersionProblems), []);
    });
  }

  test('a kustomization with a broken reference fails the build', () => {
    const dir = mkdtempSync(repoPath('k8s/.test-'));
    try {
      writeFileSync(
        path.join(dir, 'kustomization.yaml'),
        'resources:\n  - ../overlays/minikube\ncomponents:\n  - ../../istio/faults/no-such-fault\n',
      );
      assert.throws(() => kustomizeBuild(dir), /kubectl kustomize .* failed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('schema validation', () => {
  test('the istioctl install file validates', () => {
    assert.deepEqual(schemaProblems(readIstioOperator()), []);
  });

  test('a Deployment with a wrongly typed field fails', () => {
    const deployment = clone(buildCombination(combinations()[0]!).find((o) => o.kind === 'Deployment')!);
    deployment.spec.replicas = 'two';
    assert.match(schemaProblems(deployment).join('\n'), /replicas/);
  });

  test('a container port given as text fails', () => {
    const deployment = clone(buildCombination(combinations()[0]!).find((o) => o.kind === 'Deployment')!);
    deployment.spec.template.spec.containers[0].ports[0].containerPort = '3000';
    assert.match(schemaProblems(deployment).join('\n'), /containerPort/);
  });

  test('an Istio object with a wrongly typed field fails', () => {
    const rule = clone(buildCombination(combinations()[0]!).find((o) => o.kind === 'DestinationRule')!);
    rule.spec.subsets = 'v1';
    assert.match(schemaProblems(rule).join('\n'), /subsets/);
  });

  test('an unknown kind or apiVersion is reported, not skipped', () => {
    assert.match(
      schemaProblems({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }).join(),
      /no schema known/,
    );
    assert.match(
      schemaProblems({ apiVersion: 'apps/v1', kind: 'Widget', metadata: { name: 'w' } }).join(),
      /no schema for kind/,
    );
  });

  test('Istio resources must use the v1 APIs', () => {
    const gateway = clone(buildCombination(combinations()[0]!).find((o) => o.kind === 'Gateway')!);
    gateway.apiVersion = 'networking.istio.io/v1beta1';
    assert.match(apiVersionProblems(gateway).join(), /write networking\.istio\.io\/v1/);
    const telemetry = { ...gateway, apiVersion: 'telemetry.istio.io/v1alpha1', kind: 'Telemetry' };
    assert.match(apiVersionProblems(telemetry).join(), /write telemetry\.istio\.io\/v1/);
  });
});
