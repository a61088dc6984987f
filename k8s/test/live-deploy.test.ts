import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { meshNamespace } from '@recipe-mesh/measure/mesh-namespace';
import {
  controlPlaneSkipReason,
  deployedPlatform,
  makeAgainst,
  type MakeResult,
  type TestControlPlane,
  type TestPlatform,
} from './lib/control-plane.js';
import { buildCombination, buildDefault, type Combination, combinations } from './lib/kustomize.js';
import { find, type K8sObject } from './lib/objects.js';
import { repoRoot } from './lib/repo.js';

/**
 * Every way `make deploy` can compose the platform, applied by `make deploy` itself to a real
 * kube-apiserver with Istio's CRDs (k8s/kube): schema, strict field validation, admission and
 * server-side apply field ownership are the API server's, not a re-implementation of them.
 */
const skip = controlPlaneSkipReason();
let platform: TestPlatform;
let cluster: TestControlPlane;
let generatedDir: string;

before(async () => {
  if (skip) return;
  platform = await deployedPlatform({ deploy: false });
  cluster = platform.cluster;
  generatedDir = platform.overlayDir;
});
after(async () => {
  await platform?.stop();
});

const ok = (run: MakeResult) => assert.equal(run.status, 0, `make failed:\n${run.stdout}\n${run.stderr}`);

/** make's variables for a combination: faults go through FAULT, the rest through K8S_COMPONENTS. */
function variablesOf(combination: Combination): Record<string, string> {
  const fault = combination.components.find((c) => c.startsWith('istio/faults/'));
  return {
    K8S_GENERATED: generatedDir,
    K8S_COMPONENTS: combination.components.filter((c) => c !== fault).join(' '),
    FAULT: fault ? path.basename(fault) : '',
  };
}

function live(kind: string, name: string, namespace = meshNamespace): K8sObject {
  return JSON.parse(cluster.kubectl(['-n', namespace, 'get', kind, name, '-o', 'json'])) as K8sObject;
}

/** The Istio objects on the server have exactly the rendered spec: nothing a previous apply set is left. */
function assertIstioSpecsMatch(expected: K8sObject[], what: string) {
  for (const object of expected.filter((o) => ['VirtualService', 'DestinationRule'].includes(o.kind))) {
    const server = live(`${object.kind.toLowerCase()}.networking.istio.io`, object.metadata.name);
    assert.deepEqual(server.spec, object.spec, `${what}: ${object.kind}/${object.metadata.name}`);
  }
}

function assertAllPresent(run: MakeResult, expected: K8sObject[], what: string) {
  ok(run);
  const names = cluster
    .kubectl(['get', '-k', generatedDir, '-o', 'name'])
    .trim()
    .split('\n')
    .map((line) => line.split('/')[1]);
  assert.deepEqual(names.sort(), expected.map((o) => o.metadata.name).sort(), what);
}

function assertUndeployed() {
  const namespaces = cluster.kubectl(['get', 'namespaces', '-o', 'name']);
  assert.ok(!namespaces.split('\n').includes(`namespace/${meshNamespace}`), namespaces);
  const clusterScoped = cluster.kubectl([
    'get',
    'clusterroles,clusterrolebindings',
    '-l',
    'app.kubernetes.io/part-of=recipe-mesh',
    '-o',
    'name',
  ]);
  assert.equal(clusterScoped.trim(), '');
}

describe('make deploy against a real API server', { skip: skip ?? false }, () => {
  test('every combination deploys with make deploy, rolls out, and replaces the previous fault exactly', () => {
    const all = combinations();
    let store: string | undefined;
    for (const combination of all) {
      const thisStore = combination.components.filter((c) => !c.startsWith('istio/faults/')).join();
      if (store !== undefined && thisStore !== store) {
        // Another store replaces objects: undeploy first, as docs/kubernetes.md says.
        ok(makeAgainst(cluster, 'undeploy'));
        assertUndeployed();
      }
      store = thisStore;
      const expected = buildCombination(combination);
      assertAllPresent(makeAgainst(cluster, 'deploy', variablesOf(combination)), expected, combination.name);
      assertIstioSpecsMatch(expected, combination.name);
    }
    ok(makeAgainst(cluster, 'undeploy'));
    assertUndeployed();
  });

  test('make fault and make fault-clear leave the plain platform, with no fault field behind', () => {
    ok(makeAgainst(cluster, 'deploy', { K8S_GENERATED: generatedDir }));
    ok(makeAgainst(cluster, 'fault', { K8S_GENERATED: generatedDir, FAULT: 'delay' }));
    assert.equal(live('virtualservice.networking.istio.io', 'recipe-api').spec.http[0].fault.delay.fixedDelay, '500ms');
    ok(makeAgainst(cluster, 'fault-clear', { K8S_GENERATED: generatedDir }));
    assert.equal(live('virtualservice.networking.istio.io', 'recipe-api').spec.http[0].fault, undefined);
    assertIstioSpecsMatch(buildDefault(), 'after fault-clear');
  });

  test('make undeploy removes everything deploy applied', () => {
    ok(makeAgainst(cluster, 'undeploy'));
    assertUndeployed();
  });
});

/** The apply command line `make deploy` runs, read from `make -n`, with the objects from a file. */
function deployApplyArgs(file: string): string[] {
  const printed = spawnSync(
    'make',
    ['-n', '--no-print-directory', 'deploy', `K8S_GENERATED=${generatedDir}`, `KUBECTL=kubectl`],
    {
      cwd: repoRoot,
      encoding: 'utf8',
    },
  ).stdout;
  const line = printed.split('\n').find((l) => l.includes(' apply '));
  assert.ok(line, `no apply command in make -n deploy:\n${printed}`);
  const words = line.trim().split(/\s+/);
  const apply = words.slice(words.indexOf('apply'));
  const k = apply.indexOf('-k');
  assert.ok(k > 0 && apply.includes('--server-side') && apply.includes('--validate=strict'), line);
  apply.splice(k, 2, '-f', file);
  return apply;
}

describe('a broken copy is rejected by the API server with the flags make deploy uses', { skip: skip ?? false }, () => {
  const broken: [string, (objects: K8sObject[]) => void, RegExp][] = [
    [
      'an unknown field',
      (objects) => {
        find(objects, 'Deployment', 'recipe-api')!.spec.template.spec.containers[0].imagePullPolicyy = 'Always';
      },
      /unknown field "imagePullPolicyy"/,
    ],
    [
      'a wrong type',
      (objects) => {
        find(objects, 'Deployment', 'web-api')!.spec.replicas = 'two';
      },
      /replicas.*(expected|must be|cannot unmarshal|integer)/i,
    ],
    [
      'a selector that does not select its template',
      (objects) => {
        find(objects, 'Deployment', 'recipe-api')!.spec.selector.matchLabels = { app: 'nothing' };
      },
      /`selector` does not match template `labels`/,
    ],
    [
      'an unknown field in an Istio resource',
      (objects) => {
        find(objects, 'VirtualService', 'recipe-api')!.spec.http[0].timeoutt = '1s';
      },
      /unknown field "timeoutt"/,
    ],
  ];
  for (const [what, breakIt, expected] of broken) {
    test(what, () => {
      const objects = buildDefault();
      breakIt(objects);
      // JSON, not YAML: kubectl reads YAML 1.1, where a plain `no` (redis' args) is a boolean.
      const file = path.join(platform.workDir, 'broken.json');
      writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
      const args = ['--kubeconfig', cluster.kubeconfig, '--context', cluster.context, ...deployApplyArgs(file)];
      const result = spawnSync(cluster.kubectlPath, args, { encoding: 'utf8' });
      assert.notEqual(result.status, 0, `accepted:\n${result.stdout}`);
      assert.match(result.stderr, expected);
    });
  }
});
