import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { meshNamespace } from '@recipe-mesh/measure/mesh-namespace';
import { stringify } from 'yaml';
import { controlPlaneSkipReason, deployedPlatform, istioAnalyze, type TestPlatform } from './lib/control-plane.js';
import type { K8sObject } from './lib/objects.js';

/**
 * `istioctl analyze` against a live API server holding the platform with sidecars injected by
 * `istioctl kube-inject`, and Istio's control-plane objects from `istioctl manifest generate` of
 * istio/install/istio-operator.yaml (no webhooks: nothing would answer them). Offline analysis
 * (`--use-kube=false`) skips most analyzers, hence the live cluster. The istioctl is the one the
 * Go module proxy serves (k8s/kube/versions.ts), not the 1.30.5 that `make istio-install` pins.
 */
const skip = controlPlaneSkipReason();
let platform: TestPlatform;
const ns = meshNamespace;

before(async () => {
  if (!skip) platform = await deployedPlatform({ istio: true });
});
after(async () => {
  await platform?.stop();
});

const analyze = (files: string[] = []) => istioAnalyze(platform, files);

describe('istioctl analyze against the live platform', { skip: skip ?? false }, () => {
  test('sidecars are injected into the mesh workloads', () => {
    const pods = JSON.parse(
      platform.cluster.kubectl(['-n', ns, 'get', 'pods', '-l', 'app=recipe-api', '-o', 'json']),
    ).items;
    assert.ok(pods.length > 0);
    for (const pod of pods) {
      const names = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].map((c: { name: string }) => c.name);
      assert.ok(names.includes('istio-proxy'), names.join());
    }
  });

  test('reports no warning or error', () => {
    const messages = analyze().filter((m) => m.level !== 'Info');
    assert.deepEqual(messages, []);
  });

  const broken: [string, K8sObject, RegExp][] = [
    [
      'a Gateway whose selector matches no pod',
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'Gateway',
        metadata: { name: 'broken', namespace: 'istio-system' },
        spec: {
          selector: { istio: 'no-such-gateway' },
          servers: [{ port: { number: 8081, name: 'http', protocol: 'HTTP' }, hosts: ['broken.example'] }],
        },
      },
      /IST0101/,
    ],
    [
      'a route to a host that does not exist',
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'VirtualService',
        metadata: { name: 'broken', namespace: ns },
        spec: {
          hosts: ['recipe-api'],
          http: [{ route: [{ destination: { host: 'no-such-service.recipe-mesh.svc.cluster.local' } }] }],
        },
      },
      /IST0101/,
    ],
    [
      'a route to a subset no DestinationRule defines',
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'VirtualService',
        metadata: { name: 'broken', namespace: ns },
        spec: {
          hosts: ['recipe-api'],
          http: [{ route: [{ destination: { host: 'recipe-api', subset: 'v9' } }] }],
        },
      },
      /IST0101/,
    ],
  ];
  for (const [what, object, code] of broken) {
    test(`catches ${what}`, () => {
      const file = path.join(platform.workDir, 'broken.yaml');
      writeFileSync(file, stringify(object));
      const messages = analyze([file]).filter((m) => m.level !== 'Info');
      assert.ok(
        messages.some((m) => code.test(m.code) && (m.origin ?? '').includes('broken')),
        JSON.stringify(messages, null, 2),
      );
    });
  }
});
