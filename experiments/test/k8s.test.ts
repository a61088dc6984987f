import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { decide } from '../src/verdict.js';
import { parser } from '@prometheus-io/lezer-promql';
import { catalogue } from '../src/catalogue.js';
import { repoRoot } from '@recipe-mesh/measure/repo';
import type { Experiment } from '../src/definition.js';
import {
  fillQuery,
  type KubeAccess,
  k8sPlan,
  localPorts,
  manifestPreStop,
  minikubeAccess,
  promWindow,
  renderPlan,
  type K8sStep,
} from '../src/targets/k8s.js';

const experiments = catalogue as Experiment<unknown>[];
/** A cluster no default would ever pick: every command must name it. */
const cluster: KubeAccess = { kubeconfig: '/tmp/test.kubeconfig', context: 'test-ctx' };
const runs = experiments.flatMap((e) => [null, ...e.fixes].map((fix) => ({ e, fix })));

function promqlErrors(query: string): string[] {
  const errors: string[] = [];
  parser.parse(query).iterate({
    enter(node) {
      if (node.type.isError)
        errors.push(`syntax error at ${node.from}: …${query.slice(Math.max(0, node.from - 20), node.from + 20)}…`);
    },
  });
  return errors;
}

test('every plan reaches pods one by one: the only forward is Prometheus, never a Deployment or a Service of the platform', () => {
  for (const { e, fix } of runs) {
    const plan = k8sPlan(e, { fix, cluster, namespace: 'shop', durationS: 20 });
    const forwards = plan.steps.filter(
      (s): s is Extract<K8sStep, { kind: 'port-forward' }> => s.kind === 'port-forward',
    );
    assert.deepEqual(
      forwards.map((f) => f.argv.slice(5).join(' ')),
      [`-n shop port-forward svc/prometheus ${localPorts.prometheus}:9090`],
      e.name,
    );
    const load = plan.steps.find((s) => s.kind === 'load');
    assert.ok(load && load.kind === 'load' && load.describe === e.k8s.load.describe, e.name);
    assert.match(
      renderPlan(plan),
      /through the ingress gateway at the load-balancer address of istio-system\/istio-ingressgateway/,
    );
  }
});

test('app faults reach every pod of the Deployment (per-pod PUT, or FAULTS with a rollout) and every one is cleared afterwards', () => {
  for (const { e, fix } of runs) {
    const setup = fix?.setup ?? e.incidentSetup;
    const plan = k8sPlan(e, { fix, cluster, namespace: 'default', durationS: 10 });
    for (const [service, doc] of Object.entries(setup.appFaults)) {
      if (e.k8s.appFaultsBy === 'env') {
        const env = plan.steps.filter((s) => s.kind === 'command' && s.argv.includes(`deployment/${service}`));
        if (Object.keys(doc).length)
          assert.ok(
            env.some(
              (s) => s.kind === 'command' && s.phase === 'setup' && s.argv.includes(`FAULTS=${JSON.stringify(doc)}`),
            ),
            `${e.name}: FAULTS on ${service}`,
          );
        assert.equal(
          env.some((s) => s.kind === 'command' && s.phase === 'restore' && s.argv.includes('FAULTS-')),
          Object.keys(doc).length > 0,
          `${e.name}: FAULTS removed from ${service}`,
        );
        assert.ok(
          !plan.steps.some((s) => s.kind === 'pod-faults'),
          `${e.name}: no live faults on pods a rollout replaces`,
        );
        continue;
      }
      const put = plan.steps.find((s) => s.kind === 'pod-faults' && s.phase === 'setup' && s.service === service);
      assert.ok(put && put.kind === 'pod-faults', `${e.name}: no setup for ${service}`);
      if (Object.keys(doc).length) assert.deepEqual(JSON.parse(put.body!), doc);
      else assert.equal(put.method, 'DELETE');
      assert.ok(
        plan.steps.some(
          (s) => s.kind === 'pod-faults' && s.phase === 'restore' && s.service === service && s.method === 'DELETE',
        ),
        `${e.name}: ${service} not restored`,
      );
    }
  }
  const text = renderPlan(
    k8sPlan(experiments.find((e) => e.name === '503-uc')!, { fix: null, cluster, durationS: 10 }),
  );
  assert.match(text, /get pods -l '<spec.selector of deployment\/recipe-api>' -o name\); do/);
  assert.match(text, /port-forward --address 127.0.0.1 "\$pod" :http-admin/);
});

test("rollout-503's incident removes recipe-api's preStop and its restore puts back the manifests' hook; the fix keeps it", () => {
  const rollout = experiments.find((e) => e.name === 'rollout-503')!;
  const incident = k8sPlan(rollout, { fix: null, cluster, namespace: 'shop', durationS: 10 });
  const patches = (phase: string) =>
    incident.steps.flatMap((s) =>
      s.kind === 'command' && s.phase === phase && s.argv.includes('patch') ? [JSON.parse(s.argv.at(-1)!)] : [],
    );
  const container = (patch: { spec: { template: { spec: { containers: object[] } } } }) =>
    patch.spec.template.spec.containers[0];
  assert.deepEqual(patches('setup').map(container), [{ name: 'recipe-api', lifecycle: { preStop: null } }]);
  assert.deepEqual(patches('restore').map(container), [
    { name: 'recipe-api', lifecycle: { preStop: manifestPreStop('recipe-api') } },
  ]);
  assert.deepEqual(manifestPreStop('recipe-api'), { sleep: { seconds: 3 } });
  // Both changes roll the pods: the run waits for the rollout after each side's patches.
  for (const phase of ['setup', 'restore']) {
    const template = incident.steps.flatMap((s) =>
      s.kind === 'command' && s.phase === phase && s.scope === 'deployment' ? [s.argv.join(' ')] : [],
    );
    assert.equal(template.length, 3, phase);
    assert.ok(template.at(-1)!.endsWith('rollout status deployment/recipe-api --timeout=180s'), phase);
  }
  const fixed = k8sPlan(rollout, { fix: rollout.fixes[0]!, cluster, durationS: 10 });
  assert.ok(!fixed.steps.some((s) => s.kind === 'command' && s.argv.includes('patch')));
});

test("each experiment's exact readings name its own signals, and its plan reads the access logs they count", () => {
  for (const e of experiments) {
    const keys = new Set([...Object.keys(e.signals.required), ...Object.keys(e.signals.optional)]);
    const exact = Object.entries(e.k8s.exact);
    for (const [key] of exact) assert.ok(keys.has(key), `${e.name}: exact reading for unknown signal ${key}`);
    const plan = k8sPlan(e, { fix: null, cluster, durationS: 10 });
    const logs = new Set(plan.steps.flatMap((s) => (s.kind === 'access-logs' ? [s.workload] : [])));
    for (const [key, reading] of exact)
      if (reading?.from === 'access-log')
        assert.ok(logs.has(reading.workload), `${e.name} ${key}: ${reading.workload}`);
  }
  // The rare-event counts that PromQL misses are counted exactly where the incident shows.
  const exactKeys = (name: string) => Object.keys(experiments.find((e) => e.name === name)!.k8s.exact);
  assert.ok(exactKeys('503-uc').includes('ucResets'));
  assert.ok(exactKeys('circuit-breaker').includes('uoOverflows'));
  assert.ok(exactKeys('no-healthy-upstream').includes('uhResponses'));
  assert.ok(exactKeys('rollout-503').includes('outbound5xx'));
});

test('mesh components are applied as make fault does and cleared afterwards', () => {
  let seen = 0;
  for (const { e, fix } of runs) {
    const setup = fix?.setup ?? e.incidentSetup;
    const plan = k8sPlan(e, { fix, cluster, durationS: 10 });
    for (const component of setup.mesh) {
      seen++;
      assert.ok(
        plan.steps.some(
          (s) =>
            s.kind === 'command' &&
            s.phase === 'setup' &&
            s.argv.join(' ') ===
              `make fault FAULT=${component} KUBECONFIG=${cluster.kubeconfig} KUBE_CONTEXT=${cluster.context}`,
        ),
        `${e.name}: ${component} applied`,
      );
      assert.ok(
        plan.steps.some(
          (s) =>
            s.kind === 'command' &&
            s.phase === 'restore' &&
            s.argv.join(' ') === `make fault-clear KUBECONFIG=${cluster.kubeconfig} KUBE_CONTEXT=${cluster.context}`,
        ),
        `${e.name}: ${component} cleared`,
      );
    }
    assert.ok(
      !plan.steps.some((s) => s.kind === 'command' && s.argv.includes('apply') && s.stdin),
      `${e.name}: no Istio resource applied beside the components`,
    );
  }
  assert.ok(seen > 0, 'at least one experiment changes the mesh');
});

test('every signal query is PromQL that parses, scoped to the namespace and the run window', () => {
  let queries = 0;
  for (const e of experiments) {
    const plan = k8sPlan(e, { fix: null, cluster, namespace: 'shop', durationS: 20 });
    for (const step of plan.steps) {
      if (step.kind !== 'query') continue;
      queries++;
      assert.deepEqual(promqlErrors(step.promql), [], `${e.name}: ${step.promql}`);
      assert.ok(!step.promql.includes('$'), `unfilled template in ${step.promql}`);
      assert.match(step.promql, /namespace="shop"/);
      assert.match(step.promql, /\[1m\]|offset 1m/);
    }
  }
  assert.ok(queries >= experiments.length * 2);
  assert.ok(promqlErrors('sum(rate(x[5m])').length > 0, 'the parser catches a broken query');
  assert.equal(promWindow(20), '1m');
  assert.equal(promWindow(100), '3m');
  assert.equal(fillQuery('a{namespace="$namespace"}[$window]', 'ns', '2m'), 'a{namespace="ns"}[2m]');
});

test('503-uc asks Prometheus for istio_requests_total with flag UC and judges on it by signal key', () => {
  const uc = experiments.find((e) => e.name === '503-uc')!;
  const plan = k8sPlan(uc, { fix: null, cluster, namespace: 'default', durationS: 20 });
  const query = plan.steps.find((s) => s.kind === 'query' && /response_flags="UC"/.test(s.promql));
  assert.ok(
    query &&
      query.kind === 'query' &&
      query.promql.includes('istio_requests_total') &&
      query.promql.includes('response_code="503"'),
  );
  assert.equal(query.name, 'ucResets');
  const others = { inboundRequests: 400, inbound5xx: 0, callerNon2xx: 0 };
  assert.equal(decide(uc, { ...others, ucResets: 3, inbound5xx: 3 }).outcome, 'incident');
  assert.equal(decide(uc, { ...others, ucResets: 0 }).outcome, 'healthy');
  assert.equal(decide(uc, { ...others, ucResets: 0, inboundRequests: 10 }).outcome, 'inconclusive');
  assert.deepEqual(decide(uc, { ...others, ucResets: null }).reasons, [
    "no data for 503 UC with connection_termination at recipe-api's sidecar",
  ]);
});

test('redis-scan-latency sets and restores SCAN_COUNT and the SLOWLOG threshold in the cluster', () => {
  const redis = experiments.find((e) => e.name === 'redis-scan-latency')!;
  const text = renderPlan(k8sPlan(redis, { fix: null, cluster, namespace: 'default', durationS: 10 }));
  assert.match(
    text,
    /kubectl --kubeconfig \/tmp\/test.kubeconfig --context test-ctx -n default set env deploy\/recipe-api SCAN_COUNT=50000/,
  );
  assert.match(
    text,
    /kubectl --kubeconfig \/tmp\/test.kubeconfig --context test-ctx -n default set env deploy\/recipe-api SCAN_COUNT-/,
  );
  assert.match(text, /redis-cli CONFIG SET slowlog-log-slower-than 100\b/);
  assert.match(text, /redis-cli CONFIG SET slowlog-log-slower-than 10000/);
  const counts = { baselineGets: 1000, faultGets: 1000, invalidations: 100 };
  assert.equal(decide(redis, { ...counts, getP99FaultS: 0.05, getP99BaselineS: 0.005 }).outcome, 'incident');
  assert.equal(decide(redis, { ...counts, getP99FaultS: 0.006, getP99BaselineS: 0.005 }).outcome, 'healthy');
});

test('every kubectl and make command of every plan names its kubeconfig and context, never a default', () => {
  const pinned: KubeAccess = { ...cluster, kubectl: '/opt/kube/kubectl' };
  for (const { e, fix } of runs) {
    for (const access of [cluster, pinned, minikubeAccess]) {
      const plan = k8sPlan(e, { fix, cluster: access, durationS: 10, overlayDir: 'k8s/.test-overlay' });
      for (const step of plan.steps) {
        if (step.kind !== 'command' && step.kind !== 'port-forward') continue;
        const [tool, ...args] = step.argv;
        const line = `${e.name}: ${step.argv.join(' ')}`;
        if (tool === 'make') {
          assert.ok(
            args.includes(`KUBECONFIG=${access.kubeconfig}`) && args.includes(`KUBE_CONTEXT=${access.context}`),
            line,
          );
          assert.ok(args.includes('K8S_GENERATED=k8s/.test-overlay'), line);
          if (access.kubectl) assert.ok(args.includes(`KUBECTL=${access.kubectl}`), line);
        } else {
          assert.equal(tool, access.kubectl ?? 'kubectl', line);
          assert.deepEqual(args.slice(0, 4), ['--kubeconfig', access.kubeconfig, '--context', access.context], line);
        }
      }
    }
  }
});

test("the default cluster is make minikube-up's context", () => {
  const printed = spawnSync('make', ['-n', '--no-print-directory', 'minikube-up'], { cwd: repoRoot, encoding: 'utf8' });
  assert.match(printed.stdout, new RegExp(`minikube start -p ${minikubeAccess.context} `));
  assert.match(minikubeAccess.kubeconfig, /\/\.kube\/config$/);
});

test('docs/experiments.md has one side-by-side row per experiment, each saying what differs', () => {
  const doc = readFileSync(path.join(repoRoot, 'docs', 'experiments.md'), 'utf8');
  const section = doc.split('### Lab and cluster side by side')[1]?.split('\n## ')[0] ?? '';
  const rows = section
    .split('\n')
    .filter((l) => l.startsWith('| ') && !l.startsWith('| experiment') && !l.startsWith('|---'))
    .map((l) => l.split(' | ').map((c) => c.replace(/^\| /, '').trim()));
  assert.deepEqual(rows.map((r) => r[0]).sort(), experiments.map((e) => e.name).sort());
  for (const row of rows) {
    assert.equal(row.length, 6, `${row[0]}: fault, load, evidence, fix and differences`);
    assert.ok(row[5]!.length > 10, `${row[0]}: say what differs, or that nothing does`);
  }
});
