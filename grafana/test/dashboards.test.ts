import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { lintDashboard, lintDashboardSet } from '../src/dashboard-lint.js';
import { contractMetrics } from '../src/queries.js';
import { DATASOURCE_UIDS, dashboardsDir } from '../src/paths.js';
import { staleFiles } from '../src/write-dashboards.js';

const files = readdirSync(dashboardsDir)
  .filter((f) => f.endsWith('.json'))
  .sort();
const read = (file: string) =>
  JSON.parse(readFileSync(path.join(dashboardsDir, file), 'utf8')) as Record<string, unknown>;
const contract = contractMetrics();
const options = {
  datasourceUids: DATASOURCE_UIDS,
  exemplarHistograms: new Set(
    contract.filter((m) => m.type === 'histogram' && !m.promClientDefault).map((m) => m.name),
  ),
};

test('the five dashboards exist', () => {
  assert.deepEqual(files, ['experiments.json', 'mesh.json', 'nodejs.json', 'redis.json', 'services.json']);
});

test('every dashboard is valid JSON that Grafana can provision and follows the conventions', () => {
  const problems = files.flatMap((f) => lintDashboard(read(f), options));
  problems.push(...lintDashboardSet(files.map((file) => ({ file, json: read(file) }))));
  assert.deepEqual(problems, []);
});

test('the committed dashboards are what grafana/src/dashboards.ts generates', () => {
  assert.deepEqual(staleFiles(), [], 'run: make dashboards');
});

test('each experiment has a row on the Experiments dashboard and is named in panel descriptions', () => {
  const experiments = read('experiments.json') as { panels: Array<{ type: string; title: string }> };
  const all = files
    .flatMap((f) => (read(f) as { panels: Array<{ description?: string }> }).panels.map((p) => p.description ?? ''))
    .join('\n');
  for (const name of ['503-uc', 'redis-scan-latency', 'client-abort-leak', 'upload-oom']) {
    assert.ok(
      experiments.panels.some((p) => p.type === 'row' && p.title === name),
      `no row for ${name}`,
    );
    assert.ok(all.includes(name), `no panel description names ${name}`);
  }
});

// --- each rule fails on a bad dashboard -----------------------------------------------------

function mutated(change: (d: any) => void): unknown {
  const d = structuredClone(read('services.json')) as any;
  change(d);
  return d;
}
const firstPanel = (d: any) => d.panels.find((p: any) => p.type !== 'row');
const problemsOf = (change: (d: any) => void) => lintDashboard(mutated(change), options).join('\n');

test('the lint reports each kind of bad dashboard', () => {
  assert.deepEqual(lintDashboard('[]', options), ['not a JSON object']);
  assert.match(
    problemsOf((d) => delete d.uid),
    /uid is missing/,
  );
  assert.match(
    problemsOf((d) => (d.uid = 'has spaces')),
    /not a Grafana uid/,
  );
  assert.match(
    problemsOf((d) => delete d.title),
    /title is missing/,
  );
  assert.match(
    problemsOf((d) => delete d.schemaVersion),
    /schemaVersion is missing/,
  );
  assert.match(
    problemsOf((d) => (d.panels = [])),
    /panels are missing/,
  );
  assert.match(
    problemsOf((d) => (firstPanel(d).id = d.panels[0].id)),
    /is not unique/,
  );
  assert.match(
    problemsOf((d) => (firstPanel(d).datasource = { uid: 'P1809F7CD0C75ACF3' })),
    /not one the provisioning defines/,
  );
  assert.match(
    problemsOf((d) => (firstPanel(d).targets[0].datasource = '${datasource}')),
    /must be an object with a fixed uid/,
  );
  assert.match(
    problemsOf((d) => (d.annotations.list[0].datasource = { uid: 'grafana' })),
    /annotation .* not one the provisioning defines/,
  );
  assert.match(
    problemsOf((d) => d.templating.list.push({ name: 'ds', type: 'datasource' })),
    /datasources are fixed/,
  );
  assert.match(
    problemsOf((d) => delete firstPanel(d).fieldConfig.defaults.unit),
    /unit is not set/,
  );
  assert.match(
    problemsOf((d) => delete firstPanel(d).description),
    /description is missing/,
  );
  assert.match(
    problemsOf((d) => (firstPanel(d).description = 'Requests per second.')),
    /does not say what a bad value means/,
  );
  assert.match(
    problemsOf((d) => (firstPanel(d).targets = [])),
    /has no query/,
  );
  assert.match(
    problemsOf((d) => (firstPanel(d).targets[0].expr = 'sum(rate(up{job=~"$job"}[$__rate_interval]))')),
    /uses \$job/,
  );
  assert.match(
    problemsOf((d) => (firstPanel(d).targets[0].expr = 'sum(rate(up[5m]))')),
    /fixed range/,
  );
  assert.match(
    problemsOf((d) => {
      for (const p of d.panels) for (const t of p.targets ?? []) t.exemplar = false;
    }),
    /without exemplars/,
  );
  assert.match(
    lintDashboardSet([
      { file: 'a.json', json: read('services.json') },
      { file: 'b.json', json: read('services.json') },
    ]).join('\n'),
    /uid recipe-mesh-services is also used by a\.json/,
  );
});

// grafana/provisioning belongs to the Kubernetes issue; once it exists, its datasources must be the
// ones every panel names, and Prometheus's exemplars must open traces in Tempo.
const provisioningDir = path.join(dashboardsDir, '..', 'provisioning', 'datasources');
let provisioned: string[] = [];
try {
  provisioned = readdirSync(provisioningDir).filter((f) => /\.ya?ml$/.test(f));
} catch {
  /* not written yet */
}
test('the provisioning defines the datasource UIDs the dashboards use', {
  skip: provisioned.length ? false : `${provisioningDir} does not exist yet`,
}, async () => {
  const { parse } = await import('yaml');
  const datasources = provisioned.flatMap(
    (f) =>
      (
        (parse(readFileSync(path.join(provisioningDir, f), 'utf8')) ?? {}) as {
          datasources?: Array<{ uid?: string; jsonData?: any }>;
        }
      ).datasources ?? [],
  );
  const uids = new Set(datasources.map((d) => d.uid));
  for (const uid of DATASOURCE_UIDS) assert.ok(uids.has(uid), `provisioning defines no datasource with uid ${uid}`);
  const prometheus = datasources.find((d) => d.uid === 'prometheus');
  const exemplarLinks = (prometheus?.jsonData?.exemplarTraceIdDestinations ?? []) as Array<{
    name?: string;
    datasourceUid?: string;
  }>;
  assert.ok(
    exemplarLinks.some((e) => e.name === 'trace_id' && e.datasourceUid === 'tempo'),
    'Prometheus datasource: exemplarTraceIdDestinations [{ name: trace_id, datasourceUid: tempo }]',
  );
});
