import assert from 'node:assert/strict';
import { test } from 'node:test';
import { meshNamespace, serviceHost } from '@recipe-mesh/measure/mesh-namespace';
import {
  changedObjects,
  duplicateDestinationRules,
  hostProblems,
  type IstioSnapshot,
  namespaceProblems,
  snapshotDifferences,
} from './lib/istio-state.js';
import type { K8sObject } from './lib/objects.js';

/**
 * The rules live-experiments.test.ts applies to what an experiment's setup changed, on objects
 * made up here: each catches the mistake it is for (the DestinationRule `--target k8s` once
 * applied for recipe-api.default.svc.cluster.local into `default` broke all three).
 */
const object = (kind: string, name: string, namespace: string, spec: Record<string, unknown>): K8sObject =>
  ({ apiVersion: 'networking.istio.io/v1', kind, metadata: { name, namespace }, spec }) as K8sObject;
const services = ['web-api', 'recipe-api'].map((name) => object('Service', name, meshNamespace, {}));
const platformRule = object('DestinationRule', 'recipe-api', meshNamespace, { host: serviceHost('recipe-api') });
const strayRule = object('DestinationRule', 'recipe-api-idle', 'default', {
  host: serviceHost('recipe-api', 'default'),
});
const secondRule = object('DestinationRule', 'recipe-api-idle', meshNamespace, { host: 'recipe-api' });

const snapshot = (objects: K8sObject[]): IstioSnapshot =>
  new Map(
    objects.map((o) => [
      `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`,
      { object: o, content: { spec: o.spec } },
    ]),
  );

test('a resource outside the manifests’ namespace is named', () => {
  assert.deepEqual(namespaceProblems([platformRule], meshNamespace), []);
  assert.match(namespaceProblems([strayRule], meshNamespace).join(), /in namespace default/);
});

test('a host that is no Service of the cluster is named, short names resolve in their namespace', () => {
  const route = object('VirtualService', 'recipe-api', meshNamespace, {
    hosts: ['recipe-api'],
    http: [{ route: [{ destination: { host: 'recipe-api' } }] }],
  });
  assert.deepEqual(hostProblems([platformRule, route], services), []);
  assert.match(hostProblems([strayRule], services).join(), /recipe-api\.default\.svc\.cluster\.local/);
  // A VirtualService bound only to a gateway names what clients ask for, not Services.
  const ingress = object('VirtualService', 'web', meshNamespace, {
    hosts: ['*'],
    gateways: ['istio-system/gateway'],
    http: [{ route: [{ destination: { host: 'web-api' } }] }],
  });
  assert.deepEqual(hostProblems([ingress], services), []);
});

test('a second DestinationRule for a host is named, however the host is spelled', () => {
  assert.deepEqual(duplicateDestinationRules([platformRule], services), []);
  assert.match(
    duplicateDestinationRules([platformRule, secondRule], services).join(),
    /recipe-api\.recipe-mesh has 2 DestinationRules/,
  );
});

test('what a setup changed, and every field a restore left behind', () => {
  const before = snapshot([platformRule]);
  const patched = object('DestinationRule', 'recipe-api', meshNamespace, {
    ...platformRule.spec,
    trafficPolicy: { connectionPool: { http: { idleTimeout: '250ms' } } },
  });
  assert.deepEqual(
    changedObjects(before, snapshot([patched, secondRule])).map((o) => o.metadata.name),
    ['recipe-api', 'recipe-api-idle'],
  );
  assert.deepEqual(snapshotDifferences(before, snapshot([platformRule])), []);
  assert.equal(snapshotDifferences(before, snapshot([patched])).length, 1);
  assert.match(snapshotDifferences(before, snapshot([platformRule, secondRule])).join(), /recipe-api-idle: added/);
  assert.match(snapshotDifferences(before, snapshot([])).join(), /removed/);
});
