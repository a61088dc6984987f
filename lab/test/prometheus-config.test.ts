import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { requireBinary } from '@recipe-mesh/measure/binaries';
import { prometheusConfig, ruleFiles } from '../src/components/prometheus.js';
import { tempStateDir } from './helpers.js';

const promtool = requireBinary('promtool');

test('scrape config: each app’s admin /metrics as its own job, every Envoy under job envoy with its proxy label', () => {
  const text = prometheusConfig(
    {
      apps: [
        { job: 'web-api', port: 9464 },
        { job: 'recipe-api', port: 9465 },
      ],
      envoys: [
        { proxy: 'ingress', adminPort: 15000 },
        { proxy: 'web-api-sidecar', adminPort: 15010 },
      ],
    },
    ['/r/a.yaml'],
    5,
  );
  const config = parse(text);
  assert.equal(config.global.scrape_interval, '5s');
  assert.deepEqual(config.rule_files, ['/r/a.yaml']);
  assert.deepEqual(
    config.scrape_configs.map((s: { job_name: string }) => s.job_name),
    ['web-api', 'recipe-api', 'envoy'],
  );
  assert.deepEqual(config.scrape_configs[0].static_configs, [{ targets: ['127.0.0.1:9464'] }]);
  assert.equal(config.scrape_configs[2].metrics_path, '/stats/prometheus');
  assert.deepEqual(config.scrape_configs[2].static_configs[1], {
    targets: ['127.0.0.1:15010'],
    labels: { proxy: 'web-api-sidecar' },
  });
  assert.equal(parse(prometheusConfig({ apps: [], envoys: [] }, [], 1)).rule_files, undefined);
  assert.equal(config.scrape_configs[0].relabel_configs, undefined);
});

test("app labels: every app job's targets get them (a cluster's namespace), the Envoys' do not", () => {
  const config = parse(
    prometheusConfig(
      {
        apps: [
          { job: 'web-api', port: 9464 },
          { job: 'recipe-api', targetsFile: '/t/recipe-api.json' },
        ],
        envoys: [{ proxy: 'ingress', adminPort: 15000 }],
      },
      [],
      5,
      { namespace: 'recipe-mesh' },
    ),
  );
  for (const job of config.scrape_configs.slice(0, 2))
    assert.deepEqual(job.relabel_configs, [{ target_label: 'namespace', replacement: 'recipe-mesh' }], job.job_name);
  assert.equal(config.scrape_configs[2].relabel_configs, undefined);
});

test('rule files: a file promtool rejects is left out with a warning; the config passes promtool', {
  skip: 'skip' in promtool ? promtool.skip : false,
}, (t) => {
  const dir = tempStateDir(t);
  const good = path.join(dir, 'good.yaml');
  writeFileSync(
    good,
    'groups:\n  - name: lab\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up)\n',
  );
  writeFileSync(
    path.join(dir, 'bad.yaml'),
    'groups:\n  - name: lab\n    rules:\n      - record: x\n        expr: sum(\n',
  );
  writeFileSync(path.join(dir, 'notes.txt'), 'not a rule file');
  const warnings: string[] = [];
  const files = ruleFiles(dir, (promtool as { path: string }).path, (line) => warnings.push(line));
  assert.deepEqual(files, [good]);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /skipping .*bad\.yaml: promtool check rules failed/);
  const config = path.join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    prometheusConfig(
      { apps: [{ job: 'web-api', port: 9464 }], envoys: [{ proxy: 'ingress', adminPort: 15000 }] },
      files,
      5,
    ),
  );
  assert.match(
    execFileSync((promtool as { path: string }).path, ['check', 'config', config], { encoding: 'utf8' }),
    /SUCCESS/,
  );
  assert.deepEqual(
    ruleFiles(path.join(dir, 'missing'), null, () => undefined),
    [],
  );
});
