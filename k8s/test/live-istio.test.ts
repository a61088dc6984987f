import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments, stringify } from 'yaml';
import {
  builtFile,
  controlPlaneSkipReason,
  makeAgainst,
  startTestControlPlane,
  type TestControlPlane,
} from './lib/control-plane.js';
import { buildDefault } from './lib/kustomize.js';
import type { K8sObject } from './lib/objects.js';
import { repoPath, repoRoot } from './lib/repo.js';

/**
 * `istioctl analyze` against a live API server holding the platform with sidecars injected by
 * `istioctl kube-inject`, and Istio's control-plane objects from `istioctl manifest generate` of
 * istio/install/istio-operator.yaml (no webhooks: nothing would answer them). Offline analysis
 * (`--use-kube=false`) skips most analyzers, hence the live cluster. The istioctl is the one the
 * Go module proxy serves (k8s/kube/versions.ts), not the 1.30.5 that `make istio-install` pins.
 */
const skip = controlPlaneSkipReason();
let cluster: TestControlPlane;
let istioctl: string;
const work = mkdtempSync(repoPath('k8s/.test-live-'));
const ns = 'recipe-mesh';

interface AnalyzerMessage {
  code: string;
  level: string;
  message: string;
  origin?: string;
}

function runIstioctl(args: string[], input?: string) {
  // Always this cluster: without a kubeconfig istioctl falls back to http://localhost:8080.
  const result = spawnSync(istioctl, [...args, '--kubeconfig', cluster.kubeconfig, '--context', cluster.context], {
    encoding: 'utf8',
    input,
    maxBuffer: 64 << 20,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function parseYaml(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => !!o && typeof o === 'object' && 'kind' in o);
}

function analyze(files: string[] = []): AnalyzerMessage[] {
  const run = runIstioctl(['analyze', '--all-namespaces', '--output', 'json', ...files]);
  // Exit 0: no message at the failure threshold (Error); 79: an analyzer reported one.
  assert.ok(run.status === 0 || run.status === 79, `istioctl analyze failed (${run.status}):\n${run.stderr}`);
  const out = run.stdout.trim();
  return out ? (JSON.parse(out) as AnalyzerMessage[]) : [];
}

const apply = (objects: K8sObject[]) =>
  cluster.kubectl(
    ['apply', '--server-side', '--force-conflicts', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
  );

before(async () => {
  if (skip) return;
  istioctl = builtFile('istio', 'istioctl')!;
  cluster = await startTestControlPlane();
  const generated = runIstioctl(['manifest', 'generate', '-f', repoPath('istio/install/istio-operator.yaml')]);
  assert.equal(generated.status, 0, generated.stderr);
  const controlPlane = parseYaml(generated.stdout).filter(
    (o) =>
      !['CustomResourceDefinition', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'].includes(o.kind),
  );
  apply(controlPlane);
  const configMap = (name: string) => controlPlane.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name);
  const injector = configMap('istio-sidecar-injector');
  const mesh = configMap('istio');
  assert.ok(
    injector?.data?.config && injector.data.values && mesh?.data?.mesh,
    'injector and mesh ConfigMaps generated',
  );
  const files = {
    inject: path.join(work, 'inject.yaml'),
    values: path.join(work, 'values.json'),
    mesh: path.join(work, 'mesh.yaml'),
  };
  writeFileSync(files.inject, injector.data.config);
  writeFileSync(files.values, injector.data.values);
  writeFileSync(files.mesh, mesh.data.mesh);

  const deployed = makeAgainst(cluster, 'deploy', { K8S_GENERATED: path.relative(repoRoot, work) });
  assert.equal(deployed.status, 0, `make deploy failed:\n${deployed.stdout}\n${deployed.stderr}`);
  // What the injection webhook would do on minikube, done by istioctl for the same objects.
  const deployments = buildDefault().filter((o) => o.kind === 'Deployment' && o.metadata.namespace === ns);
  const injected = runIstioctl(
    [
      'kube-inject',
      '-f',
      '-',
      '--injectConfigFile',
      files.inject,
      '--valuesFile',
      files.values,
      '--meshConfigFile',
      files.mesh,
      '--revision',
      'default',
    ],
    deployments.map((d) => stringify(d)).join('---\n'),
  );
  assert.equal(injected.status, 0, injected.stderr);
  apply(parseYaml(injected.stdout));
  cluster.kubectl([
    '-n',
    ns,
    'rollout',
    'status',
    'deployment',
    '-l',
    'app.kubernetes.io/part-of=recipe-mesh',
    '--timeout=120s',
  ]);
});
after(async () => {
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('istioctl analyze against the live platform', { skip: skip ?? false }, () => {
  test('sidecars are injected into the mesh workloads', () => {
    const pods = JSON.parse(cluster.kubectl(['-n', ns, 'get', 'pods', '-l', 'app=recipe-api', '-o', 'json'])).items;
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
      const file = path.join(work, 'broken.yaml');
      writeFileSync(file, stringify(object));
      const messages = analyze([file]).filter((m) => m.level !== 'Info');
      assert.ok(
        messages.some((m) => code.test(m.code) && (m.origin ?? '').includes('broken')),
        JSON.stringify(messages, null, 2),
      );
    });
  }
});
