import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { makeVariables } from './lib/images.js';
import { buildDefault, kustomizeBuild } from './lib/kustomize.js';
import { find, workloads } from './lib/objects.js';
import { repoPath, repoRoot } from './lib/repo.js';

/** The fault components make lists: every directory of istio/faults, as `ls` sorts them. */
const faultNames = readdirSync(repoPath('istio/faults'), { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

/**
 * make/k8s.mk's recipes as make prints them (`make -n` runs nothing), and its refusals. What
 * deploy, fault, fault-clear and undeploy do to a cluster is proven against a real API server in
 * k8s/test/live-deploy.test.ts; minikube, docker and the ingress only exist on minikube.
 */
const vars = makeVariables();

/** Only the utilities a recipe needs, so the tools of this machine can be left out. */
const utilities = ['bash', 'sh', 'make', 'grep', 'sed', 'tr', 'ls', 'head', 'mkdir', 'cat', 'env', 'printf'];
const utilsDir = mkdtempSync(path.join(tmpdir(), 'k8s-make-utils-'));
for (const util of utilities) {
  const found = (process.env.PATH ?? '')
    .split(path.delimiter)
    .map((d) => path.join(d, util))
    .find((p) => existsSync(p));
  if (found) symlinkSync(found, path.join(utilsDir, util));
}
after(() => rmSync(utilsDir, { recursive: true, force: true }));

function make(args: string[], options: { path?: string } = {}) {
  const result = spawnSync('make', ['--no-print-directory', '-f', 'make/k8s.mk', ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { PATH: options.path ?? process.env.PATH ?? '', HOME: utilsDir },
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The commands a target would run that talk to a tool, as `make -n` prints them. */
function planned(
  target: string,
  variables: Record<string, string> = {},
  tool = /^(minikube|kubectl|istioctl|docker) /,
) {
  const run = make(['-n', target, ...Object.entries(variables).map(([k, v]) => `${k}=${v}`)]);
  assert.equal(run.status, 0, run.stderr);
  return run.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => tool.test(l));
}

const generated = (name: string) => {
  const dir = `k8s/.test-make-${name}`;
  after(() => rmSync(repoPath(dir), { recursive: true, force: true }));
  return dir;
};

describe('make targets that talk to a cluster, as planned by make -n', () => {
  test('minikube-up starts a profile sized 4 CPUs / 8 GiB on a pinned Kubernetes', () => {
    assert.deepEqual(planned('minikube-up'), [
      `minikube start -p recipe-mesh --cpus=4 --memory=8g --disk-size=30g --kubernetes-version=${vars.MINIKUBE_K8S_VERSION}`,
    ]);
  });

  test('istio-install installs the pinned Istio from istio/install and waits for it', () => {
    assert.deepEqual(planned('istio-install'), [
      'istioctl install --context recipe-mesh -y -f istio/install/istio-operator.yaml',
      'kubectl --context recipe-mesh -n istio-system rollout status deployment/istiod --timeout=5m',
      'kubectl --context recipe-mesh -n istio-system rollout status deployment/istio-ingressgateway --timeout=5m',
    ]);
    assert.ok(readFileSync(repoPath('istio/install/istio-operator.yaml'), 'utf8').includes('kind: IstioOperator'));
  });

  test("images builds each service target into minikube's Docker, with the names the Deployments run", () => {
    const lines = planned('images', {}, /docker-env|^docker build/);
    const text = lines.join('\n');
    assert.match(text, /minikube -p recipe-mesh docker-env --shell bash/);
    assert.match(text, /docker build --target \$svc -t recipe-mesh\/\$svc:0\.1\.0 \./);
    const built = vars.K8S_IMAGES!.split(/\s+/).map((svc) => `recipe-mesh/${svc}:${vars.IMAGE_TAG}`);
    const deployed = workloads(buildDefault())
      .flatMap((w) => w.pod.containers.map((c) => c.image))
      .filter((i) => i.startsWith('recipe-mesh/'));
    assert.deepEqual(built.sort(), deployed.sort());
  });

  test('deploy applies the composed overlay server-side, strictly validated, and waits for every rollout', () => {
    const dir = generated('deploy');
    assert.deepEqual(planned('deploy', { K8S_GENERATED: dir }), [
      `kubectl --context recipe-mesh apply --server-side --force-conflicts --validate=strict -k ${dir}`,
      'kubectl --context recipe-mesh -n recipe-mesh rollout status deployment -l app.kubernetes.io/part-of=recipe-mesh --timeout=5m',
    ]);
  });

  test('the overlay deploy writes is the minikube overlay, every Deployment carrying the label waited on', () => {
    const dir = generated('overlay');
    assert.equal(make(['k8s-overlay', `K8S_GENERATED=${dir}`]).status, 0);
    const applied = kustomizeBuild(repoPath(dir));
    assert.deepEqual(applied, buildDefault());
    for (const w of workloads(applied))
      assert.equal(w.object.metadata.labels?.['app.kubernetes.io/part-of'], 'recipe-mesh', w.name);
  });

  test('Dragonfly, a fault and another image tag compose', () => {
    const dir = generated('compose');
    const run = make([
      'k8s-overlay',
      `K8S_GENERATED=${dir}`,
      'K8S_COMPONENTS=k8s/components/dragonfly',
      'FAULT=delay',
      'IMAGE_TAG=dev2',
    ]);
    assert.equal(run.status, 0, run.stderr);
    const applied = kustomizeBuild(repoPath(dir));
    assert.ok(find(applied, 'Deployment', 'dragonfly') && !find(applied, 'Deployment', 'redis'));
    assert.equal(find(applied, 'VirtualService', 'recipe-api')!.spec.http[0].fault.delay.fixedDelay, '500ms');
    assert.equal(
      find(applied, 'Deployment', 'web-api')!.spec.template.spec.containers[0].image,
      'recipe-mesh/web-api:dev2',
    );
  });

  test('deploy refuses an unknown fault before touching the cluster, listing the real ones', () => {
    const run = make([
      'deploy',
      `K8S_GENERATED=${generated('bad-fault')}`,
      'FAULT=dealy',
      'KUBECTL=/nonexistent/kubectl',
    ]);
    assert.notEqual(run.status, 0);
    assert.ok(
      run.stderr.includes(`no kustomize component at 'istio/faults/dealy'. Faults: ${faultNames.join(' ')}`),
      run.stderr,
    );
  });

  test('fault needs a name and composes the named one', () => {
    const missing = make(['fault', 'KUBECTL=/nonexistent/kubectl']);
    assert.notEqual(missing.status, 0);
    assert.ok(missing.stderr.includes(`say which fault: make fault FAULT=<${faultNames.join('|')}>`), missing.stderr);
    const dir = generated('fault');
    assert.equal(make(['-n', 'fault', `K8S_GENERATED=${dir}`, 'FAULT=abort']).status, 0);
    assert.equal(make(['k8s-overlay', `K8S_GENERATED=${dir}`, 'FAULT=abort']).status, 0);
    assert.match(readFileSync(repoPath(dir, 'kustomization.yaml'), 'utf8'), /- \.\.\/\.\.\/istio\/faults\/abort/);
    // What fault-clear leaves on a cluster: k8s/test/live-deploy.test.ts.
  });

  test('grafana-port-forward port-forwards Grafana and prints the URL', () => {
    assert.deepEqual(planned('grafana-port-forward'), [
      'kubectl --context recipe-mesh -n recipe-mesh port-forward service/grafana 3300:3000',
    ]);
    assert.ok(find(buildDefault(), 'Service', 'grafana')!.spec.ports.some((p: any) => p.port === 3000));
  });

  test('undeploy deletes what deploy applied', () => {
    assert.deepEqual(planned('undeploy'), [
      'kubectl --context recipe-mesh delete -k k8s/overlays/minikube --ignore-not-found',
      'kubectl --context recipe-mesh delete namespace recipe-mesh --ignore-not-found',
    ]);
  });

  test('KUBECONFIG and KUBE_CONTEXT point every command at another cluster only when asked', () => {
    const lines = planned('undeploy', { KUBE_CONTEXT: 'other', KUBECONFIG: '/tmp/other.kubeconfig' });
    assert.equal(lines.length, 2);
    assert.ok(
      lines.every((l) => l.startsWith('kubectl --kubeconfig /tmp/other.kubeconfig --context other ')),
      lines.join('\n'),
    );
    // A list of kubeconfigs is kubectl's own business ($KUBECONFIG), not one --kubeconfig.
    const listed = planned('undeploy', { KUBECONFIG: '/a:/b' });
    assert.ok(
      listed.every((l) => l.startsWith('kubectl --context recipe-mesh ')),
      listed.join('\n'),
    );
  });
});

describe('make targets when a tool is missing', () => {
  const cases: [string, RegExp][] = [
    ['minikube-up', /'minikube' is not installed or not on PATH\. Install minikube/],
    ['istio-install', /'istioctl' is not installed .* ISTIO_VERSION=\d+\.\d+\.\d+ sh -/],
    ['images', /'minikube' is not installed/],
    ['deploy', /'kubectl' is not installed/],
    ['smoke', /'kubectl' is not installed/],
    ['grafana-port-forward', /'kubectl' is not installed/],
    ['undeploy', /'kubectl' is not installed/],
  ];
  for (const [target, expected] of cases) {
    test(`${target} says which tool is missing`, () => {
      // node is needed by nothing here; a PATH of plain utilities has none of the cluster tools.
      const run = make([target, `K8S_GENERATED=${generated(`missing-${target}`)}`], { path: utilsDir });
      assert.notEqual(run.status, 0);
      assert.match(run.stderr, expected);
    });
  }
});
