import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertFound, requireBinary } from '@recipe-mesh/measure/binaries';
import { kubernetesOnlyProblems, kubernetesOnlyProblemsIn } from '../src/kubernetes-only.js';
import { selectedMetrics } from '../src/promql.js';
import {
  contractMetrics,
  dashboardQueries,
  knownSeries,
  parseProblems,
  readMeshMetrics,
  recordedNames,
  ruleQueries,
  unknownMetricProblems,
} from '../src/queries.js';
import { dashboardsDir, meshMetricsFile, rulesDir } from '../src/paths.js';
import { panelTargets, readKubernetesOnly } from '@recipe-mesh/lab/panels/targets';

const promtool = requireBinary('promtool');
const queries = [...dashboardQueries(dashboardsDir), ...ruleQueries(rulesDir)];
const mesh = readMeshMetrics(meshMetricsFile);
const known = knownSeries(contractMetrics(), mesh, recordedNames(rulesDir));

test('the metric catalogue lists the metric families with their types and labels', () => {
  const metrics = contractMetrics();
  const byName = new Map(metrics.map((m) => [m.name, m]));
  assert.deepEqual(byName.get('http_server_request_duration_seconds')?.labels, ['method', 'route', 'status_code']);
  assert.equal(byName.get('nodejs_gc_duration_seconds')?.type, 'histogram');
  assert.equal(byName.get('nodejs_active_handles_total')?.type, 'gauge');
  assert.equal(byName.get('process_cpu_seconds_total')?.type, 'counter');
  assert.deepEqual(byName.get('grpc_server_handling_seconds')?.services, ['recipe-api']);
});

test('dashboards and rules hold the queries expected', () => {
  assert.ok(queries.length > 100, `found ${queries.length} queries`);
  assert.ok(
    queries.every((q) => !q.expr.includes('$__')),
    'macros are substituted before parsing',
  );
});

test('every PromQL expression parses (promtool)', { skip: 'skip' in promtool ? promtool.skip : false }, async () => {
  assertFound(promtool);
  assert.deepEqual(await parseProblems(promtool.path, queries), []);
});

test('the parse check reports a broken expression', { skip: 'skip' in promtool ? promtool.skip : false }, async () => {
  assertFound(promtool);
  const bad = [
    { source: 'good', raw: 'up', expr: 'up' },
    { source: 'bad parenthesis', raw: '', expr: 'sum(rate(up[1m])' },
    { source: 'bad type', raw: '', expr: 'rate(up)' },
  ];
  const problems = await parseProblems(promtool.path, bad);
  assert.equal(problems.length, 2);
  assert.match(problems[0]!, /^bad parenthesis: .*unclosed left parenthesis/);
  assert.match(problems[1]!, /^bad type: .*expected type range vector/);
});

test('every metric name is in docs/contracts.md, grafana/mesh-metrics.json or a recording rule', () => {
  assert.deepEqual(unknownMetricProblems(queries, known), []);
});

test('the metric-name check reports a name nobody exports', () => {
  const problems = unknownMetricProblems(
    [
      {
        source: 'x',
        raw: '',
        expr: 'sum(rate(http_requests_total[1m])) / sum(rate(http_server_request_duration_seconds_count[1m]))',
      },
    ],
    known,
  );
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /http_requests_total is neither/);
  assert.deepEqual(selectedMetrics('{__name__="up"} + foo offset 5m').names, ['foo', 'up']);
  assert.equal(selectedMetrics('sum(').syntaxError, true);
});

test('every documented mesh metric names its source document', () => {
  for (const m of mesh) {
    assert.match(m.doc, /^https:\/\/(istio\.io|www\.envoyproxy\.io)\//, m.name);
    assert.ok(m.source === 'istio' ? m.name.startsWith('istio_') : m.name.startsWith('envoy_'), m.name);
  }
});

test('Istio-only queries are listed in grafana/kubernetes-only.json, each with a lab equivalent', () => {
  assert.deepEqual(kubernetesOnlyProblemsIn(dashboardsDir, mesh), []);
  assert.ok(readKubernetesOnly(dashboardsDir).length >= 5);
});

test('the Kubernetes-only check reports unlisted Istio queries and bad lab equivalents', () => {
  const targets = panelTargets(dashboardsDir);
  const listed = readKubernetesOnly(dashboardsDir);
  const missing = kubernetesOnlyProblems(targets, listed.slice(1), mesh);
  assert.match(missing.join('\n'), /reads Istio telemetry but is not in kubernetes-only\.json/);
  const noEquivalent = kubernetesOnlyProblems(
    targets,
    [{ ...listed[0]!, labEquivalent: [] }, ...listed.slice(1)],
    mesh,
  );
  assert.match(noEquivalent.join('\n'), /has no lab equivalent/);
  const istioEquivalent = kubernetesOnlyProblems(
    targets,
    [{ ...listed[0]!, labEquivalent: [listed[0]!.refId] }, ...listed.slice(1)],
    mesh,
  );
  assert.match(istioEquivalent.join('\n'), /reads Istio telemetry too/);
  const ghost = kubernetesOnlyProblems(targets, [...listed, { ...listed[0]!, panel: 'no such panel' }], mesh);
  assert.match(ghost.join('\n'), /no such target exists/);
});
