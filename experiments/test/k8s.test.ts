import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decide } from '../src/verdict.js';
import { parser } from '@prometheus-io/lezer-promql';
import { catalogue } from '../src/catalogue.js';
import type { Experiment } from '../src/definition.js';
import { fillQuery, k8sPlan, localPorts, promWindow, renderPlan, type K8sStep } from '../src/targets/k8s.js';

const experiments = catalogue as Experiment<unknown>[];
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

test('every plan forwards the admin ports and Prometheus, and the traffic port its load needs', () => {
  for (const { e, fix } of runs) {
    const plan = k8sPlan(e, { fix, namespace: 'shop', durationS: 20 });
    const forwards = plan.steps.filter(
      (s): s is Extract<K8sStep, { kind: 'port-forward' }> => s.kind === 'port-forward',
    );
    const argvs = forwards.map((f) => f.argv.join(' '));
    assert.ok(
      argvs.includes(`kubectl -n shop port-forward deploy/recipe-api ${localPorts.admin['recipe-api']}:http-admin`),
      e.name,
    );
    assert.ok(
      argvs.includes(`kubectl -n shop port-forward deploy/web-api ${localPorts.admin['web-api']}:http-admin`),
      e.name,
    );
    assert.ok(
      argvs.some((a) => a.includes('svc/prometheus')),
      e.name,
    );
    const load = plan.steps.find((s) => s.kind === 'load');
    assert.ok(load && load.kind === 'load' && load.url.endsWith(e.k8sLoad.path));
    if (e.k8sLoad.via === 'ingress')
      assert.ok(
        argvs.some((a) => a.includes('svc/istio-ingressgateway')),
        e.name,
      );
  }
});

test('app faults are the setup documents, PUT on the admin port, and every one is cleared afterwards', () => {
  for (const { e, fix } of runs) {
    const setup = fix?.setup ?? e.incidentSetup;
    const plan = k8sPlan(e, { fix, namespace: 'default', durationS: 10 });
    for (const [service, doc] of Object.entries(setup.appFaults)) {
      const url = `http://127.0.0.1:${localPorts.admin[service as 'web-api' | 'recipe-api']}/faults`;
      const put = plan.steps.find((s) => s.kind === 'http' && s.phase === 'setup' && s.url === url);
      assert.ok(put && put.kind === 'http', `${e.name}: no setup for ${service}`);
      if (Object.keys(doc).length) assert.deepEqual(JSON.parse(put.body!), doc);
      else assert.equal(put.method, 'DELETE');
      assert.ok(
        plan.steps.some((s) => s.kind === 'http' && s.phase === 'restore' && s.url === url && s.method === 'DELETE'),
        `${e.name}: ${service} not restored`,
      );
    }
  }
});

test('mesh components are applied as make fault does and cleared afterwards', () => {
  let seen = 0;
  for (const { e, fix } of runs) {
    const setup = fix?.setup ?? e.incidentSetup;
    const plan = k8sPlan(e, { fix, durationS: 10 });
    for (const component of setup.mesh) {
      seen++;
      assert.ok(
        plan.steps.some(
          (s) => s.kind === 'command' && s.phase === 'setup' && s.argv.join(' ') === `make fault FAULT=${component}`,
        ),
        `${e.name}: ${component} applied`,
      );
      assert.ok(
        plan.steps.some(
          (s) => s.kind === 'command' && s.phase === 'restore' && s.argv.join(' ') === 'make fault-clear',
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
    const plan = k8sPlan(e, { fix: null, namespace: 'shop', durationS: 20 });
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
  const plan = k8sPlan(uc, { fix: null, namespace: 'default', durationS: 20 });
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
  const text = renderPlan(k8sPlan(redis, { fix: null, namespace: 'default', durationS: 10 }));
  assert.match(text, /kubectl -n default set env deploy\/recipe-api SCAN_COUNT=50000/);
  assert.match(text, /kubectl -n default set env deploy\/recipe-api SCAN_COUNT-/);
  assert.match(text, /redis-cli CONFIG SET slowlog-log-slower-than 100\b/);
  assert.match(text, /redis-cli CONFIG SET slowlog-log-slower-than 10000/);
  const counts = { baselineGets: 1000, faultGets: 1000, invalidations: 100 };
  assert.equal(decide(redis, { ...counts, getP99FaultS: 0.05, getP99BaselineS: 0.005 }).outcome, 'incident');
  assert.equal(decide(redis, { ...counts, getP99FaultS: 0.006, getP99BaselineS: 0.005 }).outcome, 'healthy');
});
