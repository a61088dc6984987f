import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { meshNamespace } from '@recipe-mesh/measure/mesh-namespace';
import { findBinary } from '@recipe-mesh/measure/binaries';
import { parse } from 'yaml';
import { buildCombination } from '../../k8s/test/lib/kustomize.js';
import { repoPath } from '../../k8s/test/lib/repo.js';
import { catalogue } from '../src/catalogue.js';
import type { Experiment } from '../src/definition.js';
import { k8sPlan, minikubeAccess, renderPlan } from '../src/targets/k8s.js';

/**
 * The k8s plans against the manifests themselves (kubectl kustomize, offline): every namespace,
 * workload, Service and in-cluster host a plan names must be one `make deploy` creates, or one
 * `make istio-install` creates (istio/install). A plan that cannot work on the documented cluster
 * fails here instead of on someone's minikube.
 */

const kustomize = findBinary('kubectl') ?? findBinary('kustomize');
const skip = kustomize ? false : 'neither kubectl nor kustomize on PATH (apt-get install kubectl)';
if (!kustomize && process.env.CI === 'true') throw new Error('CI=true but kubectl is missing');

const experiments = catalogue as Experiment<unknown>[];

interface Created {
  namespaces: Set<string>;
  /** `namespace/kind/name`, kind lower-cased as kubectl writes it (svc, deploy). */
  objects: Set<string>;
  hosts: Set<string>;
}

function created(components: string[]): Created {
  const objects = buildCombination({ name: components.join('+') || 'minikube', components });
  const result: Created = { namespaces: new Set(), objects: new Set(), hosts: new Set() };
  for (const o of objects) {
    const ns = o.metadata.namespace;
    if (o.kind === 'Namespace') result.namespaces.add(o.metadata.name);
    if (!ns) continue;
    result.namespaces.add(ns);
    if (o.kind === 'Service') {
      result.objects.add(`${ns}/svc/${o.metadata.name}`);
      result.hosts.add(`${o.metadata.name}.${ns}.svc.cluster.local`);
    }
    if (o.kind === 'Deployment') result.objects.add(`${ns}/deploy/${o.metadata.name}`);
  }
  // What `make istio-install` creates: its namespace and the gateways of the IstioOperator.
  const operator = parse(readFileSync(repoPath('istio/install/istio-operator.yaml'), 'utf8')) as {
    metadata: { namespace: string };
    spec?: { components?: { ingressGateways?: { name: string }[] } };
  };
  const istioNs = operator.metadata.namespace;
  result.namespaces.add(istioNs);
  for (const g of operator.spec?.components?.ingressGateways ?? []) result.objects.add(`${istioNs}/svc/${g.name}`);
  return result;
}

test('every k8s plan names only namespaces, workloads and hosts the manifests create', { skip }, () => {
  const platform = created([]);
  assert.ok(platform.namespaces.has(meshNamespace), `the manifests create ${meshNamespace}`);
  let checked = 0;
  for (const e of experiments) {
    for (const fix of [null, ...e.fixes]) {
      const setup = fix?.setup ?? e.incidentSetup;
      const inCluster = setup.mesh.length ? created(setup.mesh.map((c) => `istio/faults/${c}`)) : platform;
      const plan = k8sPlan(e, { fix, cluster: minikubeAccess, durationS: 10 });
      assert.equal(plan.namespace, meshNamespace);
      const where = `${e.name}${fix ? ` --fix-variant ${fix.name}` : ''}`;
      for (const step of plan.steps) {
        if (step.kind !== 'command' && step.kind !== 'port-forward') continue;
        const n = step.argv.indexOf('-n');
        if (n < 0) continue;
        const ns = step.argv[n + 1]!;
        assert.ok(
          inCluster.namespaces.has(ns),
          `${where}: "${step.describe}" uses namespace ${ns}, which nothing creates`,
        );
        for (const ref of step.argv.filter((a) => /^(svc|deploy)\//.test(a))) {
          checked++;
          assert.ok(
            inCluster.objects.has(`${ns}/${ref}`),
            `${where}: "${step.describe}" names ${ns}/${ref}, which nothing creates`,
          );
        }
      }
      for (const host of renderPlan(plan).matchAll(/[a-z0-9-]+\.[a-z0-9-]+\.svc\.cluster\.local/g))
        assert.ok(inCluster.hosts.has(host[0]), `${where}: host ${host[0]} is not a Service of the manifests`);
      for (const step of plan.steps)
        if (step.kind === 'query')
          for (const m of step.promql.matchAll(/namespace="([^"]+)"/g))
            assert.ok(inCluster.namespaces.has(m[1]!), `${where}: PromQL filters on namespace ${m[1]}: ${step.promql}`);
    }
  }
  assert.ok(checked >= experiments.length * 3, `${checked} references checked`);
});

test('a mesh component patches the existing DestinationRule: one per host', { skip }, () => {
  for (const e of experiments) {
    for (const fix of e.fixes) {
      for (const component of fix.setup.mesh) {
        const objects = buildCombination({ name: component, components: [`istio/faults/${component}`] });
        const hosts = objects
          .filter((o) => o.kind === 'DestinationRule')
          .map((o) => (o as unknown as { spec: { host: string } }).spec.host);
        assert.deepEqual(
          hosts,
          [...new Set(hosts)],
          `${e.name}: istio/faults/${component} leaves one DestinationRule per host`,
        );
      }
    }
  }
});
