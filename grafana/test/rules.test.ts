import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { assertFound, requireBinary } from '@recipe-mesh/measure/binaries';
import { checkRules, testRules } from '../src/promtool.js';
import { readRuleFiles } from '../src/queries.js';
import { ruleTestsDir, rulesDir } from '../src/paths.js';

const promtool = requireBinary('promtool');
const skip = 'skip' in promtool ? promtool.skip : false;
const ruleFiles = readRuleFiles(rulesDir);
const testFiles = readdirSync(ruleTestsDir)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => path.join(ruleTestsDir, f));

test('promtool check rules passes on grafana/rules', { skip }, async () => {
  assertFound(promtool);
  const result = await checkRules(
    promtool.path,
    ruleFiles.map((r) => r.file),
  );
  assert.ok(result.ok, result.output);
});

test('promtool test rules passes on grafana/rules/tests', { skip }, async () => {
  assertFound(promtool);
  assert.ok(testFiles.length >= 2);
  const result = await testRules(promtool.path, testFiles);
  assert.ok(result.ok, result.output);
});

test('the required alerts exist, each with a runbook line, a summary and a severity', () => {
  const alerts = ruleFiles.flatMap((f) => f.rules.groups.flatMap((g) => g.rules.filter((r) => r.alert))) as Array<{
    alert: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  }>;
  for (const name of [
    'Mesh503UpstreamConnectionTermination',
    'EnvoyUpstreamClosedWithActiveRequest',
    'HttpLatencySLOFastBurn',
    'NodeEventLoopLagHigh',
    'NodeOpenFdsGrowing',
  ]) {
    assert.ok(
      alerts.some((a) => a.alert === name),
      `alert ${name} is missing`,
    );
  }
  for (const a of alerts) {
    assert.ok((a.annotations?.runbook ?? '').length > 40, `${a.alert}: no runbook line`);
    assert.ok(a.annotations?.summary, `${a.alert}: no summary`);
    assert.ok(['warning', 'critical'].includes(a.labels?.severity ?? ''), `${a.alert}: no severity`);
  }
});

test('every alert is exercised by a promtool unit test', async () => {
  const { readFileSync } = await import('node:fs');
  const tests = testFiles.map((f) => readFileSync(f, 'utf8')).join('\n');
  for (const f of ruleFiles)
    for (const g of f.rules.groups)
      for (const r of g.rules)
        if (r.alert) assert.match(tests, new RegExp(`alertname: ${r.alert}\\b`), `${r.alert} has no unit test`);
});

test('promtool check rules and test rules fail on bad input', { skip }, async (t) => {
  assertFound(promtool);
  const dir = await mkdtemp(path.join(tmpdir(), 'grafana-bad-rules-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const badRules = path.join(dir, 'bad.yaml');
  await writeFile(
    badRules,
    'groups:\n  - name: bad\n    rules:\n      - record: x:y:rate5m\n        expr: sum(rate(up[5m])\n',
  );
  const checked = await checkRules(promtool.path, [badRules]);
  assert.equal(checked.ok, false);
  assert.match(checked.output, /unclosed left parenthesis/);

  // The real alert rules with an expectation they do not meet: fd growth on a flat series.
  const badTest = path.join(dir, 'bad.test.yaml');
  await writeFile(
    badTest,
    [
      'rule_files:',
      `  - ${path.join(rulesDir, 'recipe-mesh-alerts.yaml')}`,
      'tests:',
      '  - interval: 1m',
      '    input_series:',
      `      - series: 'process_open_fds{service="web-api",instance="a"}'`,
      `        values: '120x40'`,
      '    alert_rule_test:',
      '      - eval_time: 35m',
      '        alertname: NodeOpenFdsGrowing',
      '        exp_alerts:',
      '          - exp_labels: { severity: warning, service: web-api, instance: a }',
      '',
    ].join('\n'),
  );
  const tested = await testRules(promtool.path, [badTest]);
  assert.equal(tested.ok, false);
  assert.match(tested.output, /NodeOpenFdsGrowing/);
});
