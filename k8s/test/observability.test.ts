import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { assertFound, requireBinary } from '@recipe-mesh/measure/binaries';
import { buildCombination, buildDefault, combinations } from './lib/kustomize.js';
import { find, type K8sObject } from './lib/objects.js';
import {
  dashboardProblems,
  datasourceProblems,
  generatedConfigMap,
  prometheusConfigText,
  provisionedDatasources,
  ruleFileProblems,
  tempoWiringProblems,
} from './lib/observability.js';
import { repoPath } from './lib/repo.js';

const dashboardsDir = repoPath('grafana/dashboards');
const rulesDir = repoPath('grafana/rules');
const uids = (objects: K8sObject[]) => new Set(provisionedDatasources(objects).map((d) => d.uid));

/** A scratch folder inside k8s/test for dashboards that exist only for one test. */
function withFixtureDir(run: (dir: string) => void) {
  const dir = mkdtempSync(repoPath('k8s/test/.fixture-'));
  try {
    run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const dashboardJson = (uid: string) =>
  JSON.stringify({ title: 'fixture', panels: [{ datasource: { type: 'prometheus', uid } }] });

describe('Grafana provisioning', () => {
  for (const combination of combinations().filter((c) => c.components.length <= 1)) {
    test(`every grafana/dashboards/*.json is provisioned and grafana/rules/*.yaml loaded (${combination.name})`, () => {
      const objects = buildCombination(combination);
      assert.deepEqual(dashboardProblems(objects, dashboardsDir, uids(objects)), []);
      assert.deepEqual(ruleFileProblems(objects, rulesDir), []);
    });
  }

  test('datasources have the fixed UIDs and link Tempo and Prometheus both ways', () => {
    assert.deepEqual(datasourceProblems(buildDefault()), []);
    assert.deepEqual([...uids(buildDefault())].sort(), ['prometheus', 'tempo']);
  });

  test('a dashboard file missing from the ConfigMap fails, naming the file', () => {
    withFixtureDir((dir) => {
      writeFileSync(path.join(dir, 'latency.json'), dashboardJson('prometheus'));
      assert.match(
        dashboardProblems(buildDefault(), dir, uids(buildDefault())).join(),
        /latency\.json is not provisioned: add it/,
      );
    });
  });

  test('a provisioned dashboard passes, and one naming an unknown datasource fails', () => {
    withFixtureDir((dir) => {
      const objects = buildDefault();
      const configMap = generatedConfigMap(objects, 'grafana-dashboards')!;
      writeFileSync(path.join(dir, 'ok.json'), dashboardJson('prometheus'));
      writeFileSync(path.join(dir, 'bad.json'), dashboardJson('loki'));
      configMap.data = { 'ok.json': dashboardJson('prometheus'), 'bad.json': dashboardJson('loki') };
      const problems = dashboardProblems(objects, dir, uids(objects));
      assert.deepEqual(problems, ['grafana/dashboards/bad.json: datasource uid loki is not provisioned']);
    });
  });

  test('dashboards mounted where the provider does not look fail', () => {
    const objects = buildDefault();
    const grafana = find(objects, 'Deployment', 'grafana')!;
    grafana.spec.template.spec.containers[0].volumeMounts.find((m: any) => m.name === 'dashboards').mountPath =
      '/dashboards';
    assert.match(
      dashboardProblems(objects, dashboardsDir, uids(objects)).join(),
      /mounted at \/dashboards, the provider reads \/var\/lib\/grafana\/dashboards/,
    );
  });

  test('a rules file missing from the prometheus-rules ConfigMap fails', () => {
    withFixtureDir((dir) => {
      writeFileSync(path.join(dir, 'slo.yaml'), 'groups: []\n');
      assert.match(ruleFileProblems(buildDefault(), dir).join(), /slo\.yaml is not loaded/);
    });
  });

  test('a datasource with another UID, or a link to nowhere, fails', () => {
    const objects = buildDefault();
    const configMap = generatedConfigMap(objects, 'grafana-datasources')!;
    const [key, text] = Object.entries(configMap.data!)[0]!;
    const doc = parse(text);
    doc.datasources[1].uid = 'tempo-main';
    doc.datasources[0].url = 'http://prometheus-server:9090';
    configMap.data![key] = stringify(doc);
    const problems = datasourceProblems(objects).join('\n');
    assert.match(problems, /no tempo datasource with uid tempo/);
    assert.match(problems, /prometheus-server:9090 names no Service/);
    assert.match(problems, /exemplars labelled trace_id .* do not link to tempo/);
  });
});

describe('Tempo and Prometheus', () => {
  test('Tempo receives OTLP on its Service ports and writes span metrics and the service graph to Prometheus', () => {
    assert.deepEqual(tempoWiringProblems(buildDefault()), []);
  });

  test('broken Tempo wiring fails', () => {
    const objects = buildDefault();
    const configMap = find(objects, 'ConfigMap', 'tempo-config')!;
    const config = parse(configMap.data!['tempo.yaml']!);
    config.distributor.receivers.otlp.protocols.grpc.endpoint = '0.0.0.0:14317';
    config.overrides.defaults.metrics_generator.processors = ['span-metrics'];
    config.metrics_generator.storage.remote_write[0].url = 'http://prometheus:9091/api/v1/write';
    configMap.data!['tempo.yaml'] = stringify(config);
    find(objects, 'Deployment', 'prometheus')!.spec.template.spec.containers[0].args = [
      '--config.file=/etc/prometheus/config/prometheus.yml',
    ];
    const problems = tempoWiringProblems(objects).join('\n');
    assert.match(problems, /OTLP grpc listens on 14317/);
    assert.match(problems, /processor service-graphs is off/);
    assert.match(problems, /remote_write .*9091.* names no Service port/);
    assert.match(problems, /remote-write receiver is off/);
  });

  // Debian's promtool is built without Kubernetes service discovery, so the pod job's
  // kubernetes_sd_configs is swapped for a static target; the relabelling and the rest are checked.
  function promtoolCheck(config: string): { ok: boolean; output: string } {
    const found = requireBinary('promtool');
    assertFound(found);
    const doc = parse(config);
    for (const job of doc.scrape_configs) {
      if (job.kubernetes_sd_configs) {
        delete job.kubernetes_sd_configs;
        job.static_configs = [{ targets: ['127.0.0.1:9'] }];
      }
    }
    const dir = mkdtempSync(repoPath('k8s/test/.fixture-'));
    try {
      writeFileSync(path.join(dir, 'prometheus.yml'), stringify(doc));
      execFileSync(found.path, ['check', 'config', path.join(dir, 'prometheus.yml')], { stdio: 'pipe' });
      return { ok: true, output: '' };
    } catch (error) {
      return { ok: false, output: String((error as { stdout?: Buffer }).stdout ?? error) };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  test('promtool accepts the Prometheus configuration', (t) => {
    if ('skip' in requireBinary('promtool')) return t.skip('promtool not installed');
    const result = promtoolCheck(prometheusConfigText(buildDefault())!);
    assert.ok(result.ok, result.output);
  });

  test('promtool rejects a broken relabelling', (t) => {
    if ('skip' in requireBinary('promtool')) return t.skip('promtool not installed');
    const broken = prometheusConfigText(buildDefault())!.replace('action: keep', 'action: keepit');
    assert.equal(promtoolCheck(broken).ok, false);
  });
});
