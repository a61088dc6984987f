import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { fakeWorld, type MakeRun } from './lib/fake-tools.js';
import { makeVariables } from './lib/images.js';
import { buildDefault, kustomizeBuild } from './lib/kustomize.js';
import { find, workloads } from './lib/objects.js';
import { repoPath } from './lib/repo.js';

const vars = makeVariables();
const world = fakeWorld();
after(() => world.cleanup());

/** The fake calls as command lines, without the DOCKER_HOST field the fake docker adds. */
const lines = (run: MakeRun) => run.calls.map((c) => c.filter((a) => !a.startsWith('DOCKER_HOST=')).join(' '));
const ok = (run: MakeRun) => assert.equal(run.status, 0, `make failed:\n${run.stdout}\n${run.stderr}`);
/** Every cluster command is shown before it runs (make echoes recipe lines; smoke.sh prints "+ …"). */
function assertPrinted(run: MakeRun) {
  const output = run.stdout + run.stderr;
  for (const line of lines(run)) {
    if (line.startsWith('istioctl version')) continue; // a read-only probe inside a version check
    if (line.startsWith('minikube -p') && line.includes('docker-env')) assert.ok(output.includes('docker-env'), line);
    else assert.ok(output.includes(line), `not printed: ${line}\n--- output ---\n${output}`);
  }
}
const generated = (name: string) => {
  const dir = `k8s/.test-make-${name}`;
  after(() => rmSync(repoPath(dir), { recursive: true, force: true }));
  return dir;
};

describe('make targets that talk to a cluster (fake tools)', () => {
  test('minikube-up starts a profile sized 4 CPUs / 8 GiB on a pinned Kubernetes', () => {
    const run = world.run('minikube-up');
    ok(run);
    assert.deepEqual(lines(run), [
      `minikube start -p recipe-mesh --cpus=4 --memory=8g --disk-size=30g --kubernetes-version=${vars.MINIKUBE_K8S_VERSION}`,
    ]);
    assertPrinted(run);
  });

  test('istio-install installs the pinned Istio from istio/install and waits for it', () => {
    const run = world.run('istio-install', {}, { FAKE_ISTIOCTL_VERSION: vars.ISTIO_VERSION! });
    ok(run);
    assert.deepEqual(lines(run), [
      'istioctl version --remote=false',
      'istioctl install --context recipe-mesh -y -f istio/install/istio-operator.yaml',
      'kubectl --context recipe-mesh -n istio-system rollout status deployment/istiod --timeout=5m',
      'kubectl --context recipe-mesh -n istio-system rollout status deployment/istio-ingressgateway --timeout=5m',
    ]);
    assertPrinted(run);
    assert.ok(readFileSync(repoPath('istio/install/istio-operator.yaml'), 'utf8').includes('kind: IstioOperator'));
  });

  test('istio-install refuses an istioctl of another version', () => {
    const run = world.run('istio-install', {}, { FAKE_ISTIOCTL_VERSION: '1.29.9' });
    assert.notEqual(run.status, 0);
    assert.match(
      run.stderr,
      new RegExp(`istioctl 1\\.29\\.9 found; this platform pins Istio ${vars.ISTIO_VERSION!.replace(/\./g, '\\.')}`),
    );
    assert.ok(!lines(run).some((l) => l.startsWith('istioctl install')));
  });

  test("images builds each service target into minikube's Docker, with the names the Deployments run", () => {
    const run = world.run('images');
    ok(run);
    assert.deepEqual(lines(run), [
      'minikube -p recipe-mesh docker-env --shell bash',
      'docker build --target recipe-api -t recipe-mesh/recipe-api:0.1.0 .',
      'docker build --target web-api -t recipe-mesh/web-api:0.1.0 .',
    ]);
    for (const call of run.calls.filter((c) => c[0] === 'docker'))
      assert.equal(call.at(-1), 'DOCKER_HOST=tcp://192.0.2.10:2376', 'docker-env applied');
    assertPrinted(run);
    const built = run.calls.filter((c) => c[0] === 'docker').map((c) => c[c.indexOf('-t') + 1]);
    const deployed = workloads(buildDefault())
      .flatMap((w) => w.pod.containers.map((c) => c.image))
      .filter((i) => i.startsWith('recipe-mesh/'));
    assert.deepEqual(built.sort(), deployed.sort());
  });

  test('deploy applies the composed overlay server-side and waits for every rollout', () => {
    const dir = generated('deploy');
    const run = world.run('deploy', { K8S_GENERATED: dir });
    ok(run);
    assert.deepEqual(lines(run), [
      `kubectl --context recipe-mesh apply --server-side --force-conflicts -k ${dir}`,
      'kubectl --context recipe-mesh -n recipe-mesh rollout status deployment -l app.kubernetes.io/part-of=recipe-mesh --timeout=5m',
    ]);
    assertPrinted(run);
    // What it applied is exactly the minikube overlay, every Deployment carrying the label waited on.
    const applied = kustomizeBuild(repoPath(dir));
    assert.deepEqual(applied, buildDefault());
    for (const w of workloads(applied))
      assert.equal(w.object.metadata.labels?.['app.kubernetes.io/part-of'], 'recipe-mesh', w.name);
  });

  test('deploy with Dragonfly, a fault and another image tag composes them', () => {
    const dir = generated('compose');
    const run = world.run('deploy', {
      K8S_GENERATED: dir,
      K8S_COMPONENTS: 'k8s/components/dragonfly',
      FAULT: 'delay',
      IMAGE_TAG: 'dev2',
    });
    ok(run);
    const applied = kustomizeBuild(repoPath(dir));
    assert.ok(find(applied, 'Deployment', 'dragonfly') && !find(applied, 'Deployment', 'redis'));
    assert.equal(find(applied, 'VirtualService', 'recipe-api')!.spec.http[0].fault.delay.fixedDelay, '500ms');
    assert.equal(
      find(applied, 'Deployment', 'web-api')!.spec.template.spec.containers[0].image,
      'recipe-mesh/web-api:dev2',
    );
  });

  test('deploy refuses an unknown fault before touching the cluster, listing the real ones', () => {
    const run = world.run('deploy', { K8S_GENERATED: generated('bad-fault'), FAULT: 'dealy' });
    assert.notEqual(run.status, 0);
    assert.match(
      run.stderr,
      /no kustomize component at 'istio\/faults\/dealy'\. Faults: abort circuit-breaker delay idle-timeout retries/,
    );
    assert.deepEqual(run.calls, []);
  });

  test('fault needs a name; fault and fault-clear apply with and without it', () => {
    const missing = world.run('fault');
    assert.notEqual(missing.status, 0);
    assert.match(
      missing.stderr,
      /say which fault: make fault FAULT=<abort\|circuit-breaker\|delay\|idle-timeout\|retries>/,
    );
    const dir = generated('fault');
    ok(world.run('fault', { K8S_GENERATED: dir, FAULT: 'abort' }));
    assert.match(readFileSync(repoPath(dir, 'kustomization.yaml'), 'utf8'), /- \.\.\/\.\.\/istio\/faults\/abort/);
    const cleared = world.run('fault-clear', { K8S_GENERATED: dir }, {});
    ok(cleared);
    assert.doesNotMatch(readFileSync(repoPath(dir, 'kustomization.yaml'), 'utf8'), /faults/);
    assert.match(lines(cleared)[0]!, /apply --server-side --force-conflicts -k/);
  });

  const healthy = {
    FAKE_INGRESS_HOST: '192.0.2.20',
    FAKE_TEMPO_BODY: '{"traces":[{"traceID":"4bf92f3577b34da6a3ce929d0e0e4736","rootServiceName":"web-api"}]}',
    FAKE_PROMETHEUS_BODY:
      '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"7"]}]}}',
    SMOKE_RETRY_DELAY: '0',
    SMOKE_RETRIES: '2',
  };

  test('smoke calls the ingress over the three protocols and finds a trace and series', () => {
    const run = world.run('smoke', {}, healthy);
    ok(run);
    const calls = lines(run);
    assert.equal(
      calls[0],
      'kubectl --context recipe-mesh -n istio-system get service istio-ingressgateway -o jsonpath={.status.loadBalancer.ingress[0].ip}{.status.loadBalancer.ingress[0].hostname}',
    );
    for (const via of ['http', 'graphql', 'grpc']) {
      assert.ok(
        calls.includes(
          `curl -sS -o /dev/null -w %{http_code} --max-time 10 http://192.0.2.20/api/recipes/1?via=${via}`,
        ),
        via,
      );
    }
    assert.ok(
      calls.includes(
        'kubectl --context recipe-mesh get --raw /api/v1/namespaces/recipe-mesh/services/tempo:3200/proxy/api/search?tags=service.name%3Dweb-api&limit=5',
      ),
    );
    const queries = calls
      .filter((c) => c.includes('/prometheus:9090/proxy/api/v1/query?query='))
      .map((c) => decodeURIComponent(c.split('query=')[1]!));
    assert.deepEqual(queries, [
      'http_server_request_duration_seconds_count{service="web-api"}',
      'istio_requests_total{destination_app="recipe-api"}',
    ]);
    assert.match(run.stdout, /smoke: passed/);
    assertPrinted(run);
  });

  const failures: [string, Record<string, string>, RegExp][] = [
    ['no ingress address', { FAKE_INGRESS_HOST: '' }, /no external address: run 'minikube tunnel -p recipe-mesh'/],
    ['an error from the ingress', { FAKE_CURL_CODE: '503' }, /via=http answered 503/],
    ['no trace in Tempo', { FAKE_TEMPO_BODY: '{"traces":[]}' }, /no web-api trace in Tempo after 2 tries/],
    [
      'no series in Prometheus',
      { FAKE_PROMETHEUS_BODY: '{"status":"success","data":{"resultType":"vector","result":[]}}' },
      /Prometheus has no series for http_server_request_duration_seconds_count/,
    ],
  ];
  for (const [what, env, expected] of failures) {
    test(`smoke fails on ${what}`, () => {
      const run = world.run('smoke', {}, { ...healthy, ...env });
      assert.notEqual(run.status, 0);
      assert.match(run.stderr, expected);
    });
  }

  test('dashboards port-forwards Grafana and prints the URL', () => {
    const run = world.run('dashboards');
    ok(run);
    assert.deepEqual(lines(run), [
      'kubectl --context recipe-mesh -n recipe-mesh port-forward service/grafana 3300:3000',
    ]);
    assert.match(run.stdout, /Grafana: http:\/\/localhost:3300/);
    assert.ok(find(buildDefault(), 'Service', 'grafana')!.spec.ports.some((p: any) => p.port === 3000));
    assertPrinted(run);
  });

  test('undeploy deletes what deploy applied', () => {
    const run = world.run('undeploy');
    ok(run);
    assert.deepEqual(lines(run), [
      'kubectl --context recipe-mesh delete -k k8s/overlays/minikube --ignore-not-found',
      'kubectl --context recipe-mesh delete namespace recipe-mesh --ignore-not-found',
    ]);
    assertPrinted(run);
  });

  test('KUBE_CONTEXT points every command at another cluster only when asked', () => {
    const run = world.run('undeploy', { KUBE_CONTEXT: 'other' });
    ok(run);
    assert.ok(lines(run).every((l) => l.startsWith('kubectl --context other ')));
  });
});

describe('make targets when a tool is missing', () => {
  const cases: [string, ('minikube' | 'kubectl' | 'istioctl' | 'docker' | 'curl')[], RegExp][] = [
    [
      'minikube-up',
      ['kubectl', 'istioctl', 'docker', 'curl'],
      /'minikube' is not installed or not on PATH\. Install minikube/,
    ],
    [
      'istio-install',
      ['minikube', 'kubectl', 'docker', 'curl'],
      /'istioctl' is not installed .* ISTIO_VERSION=\d+\.\d+\.\d+ sh -/,
    ],
    ['istio-install', ['minikube', 'istioctl', 'docker', 'curl'], /'kubectl' is not installed/],
    ['images', ['kubectl', 'istioctl', 'docker', 'curl'], /'minikube' is not installed/],
    ['images', ['minikube', 'kubectl', 'istioctl', 'curl'], /'docker' is not installed/],
    ['deploy', ['minikube', 'istioctl', 'docker', 'curl'], /'kubectl' is not installed/],
    ['smoke', ['minikube', 'istioctl', 'docker', 'curl'], /'kubectl' is not installed/],
    ['dashboards', ['minikube', 'istioctl', 'docker', 'curl'], /'kubectl' is not installed/],
    ['undeploy', ['minikube', 'istioctl', 'docker', 'curl'], /'kubectl' is not installed/],
  ];
  for (const [target, present, expected] of cases) {
    test(`${target} says which tool is missing`, () => {
      const partial = fakeWorld(present);
      try {
        const run = partial.run(target, { K8S_GENERATED: generated(`missing-${target}`) });
        assert.notEqual(run.status, 0);
        assert.match(run.stderr, expected);
        assert.deepEqual(
          run.calls.filter((c) => c[0] !== 'istioctl' || c[1] !== 'version'),
          [],
        );
      } finally {
        partial.cleanup();
      }
    });
  }
});
