import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { assertFound, requireBinary } from '@recipe-mesh/measure/binaries';
import { waitFor } from '@recipe-mesh/measure/net';
import { evaluatePanels, type PanelRow } from '@recipe-mesh/lab/panels/evaluate';
import { waitForScrape } from '@recipe-mesh/measure/scrape';
import { allPanelsHaveData, formatPanelTable } from '@recipe-mesh/lab/panels/print';
import { panelTargets } from '@recipe-mesh/lab/panels/targets';
import { contractRegistries } from '../src/contract-registry.js';
import { contractMetrics, readMeshMetrics, readRuleFiles } from '../src/queries.js';
import { selectedMetrics } from '../src/promql.js';
import { startEnvoy, startPrometheus, type Started } from './lib/processes.js';
import { dashboardsDir, meshMetricsFile, rulesDir } from '../src/paths.js';
import { ucPanel } from '../src/dashboards.js';
import { istioStatsConfig } from '@recipe-mesh/lab/mesh/envoy-config';

/**
 * Every dashboard panel against a real Prometheus: it scrapes an HTTP server that serves every
 * docs/contracts.md family for both services, and a real Envoy whose inbound cluster produces
 * 503 UC. Each query the lab can answer must return at least one series, the lab equivalent of the
 * mesh UC panel must be above zero, exemplar panels must return trace ids, and the rules must load
 * and record.
 */

const prometheusBinary = requireBinary('prometheus');
const envoyBinary = requireBinary('envoy');
const skip = 'skip' in prometheusBinary ? prometheusBinary.skip : 'skip' in envoyBinary ? envoyBinary.skip : false;

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function query(
  prometheus: string,
  expr: string,
): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const body = (await (await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as {
    data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
  };
  return body.data.result;
}

test('every panel returns data from live metrics; rules load and record', { skip, timeout: 120000 }, async (t) => {
  assertFound(prometheusBinary);
  assertFound(envoyBinary);
  const stops: Array<() => Promise<unknown>> = [];
  t.after(async () => {
    for (const stop of stops.reverse()) await stop();
  });

  const { registries, observe } = contractRegistries(contractMetrics());
  const metricsServer = http.createServer(async (req, res) => {
    const registry = registries.get(req.url?.split('/')[1] ?? '');
    if (!registry) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
  });
  const metricsPort = await listen(metricsServer);
  stops.push(() => new Promise((r) => metricsServer.close(r)));

  // Upstreams for Envoy: one closes the socket as soon as a request arrives (503 UC), one answers.
  const closing = net.createServer((socket) => socket.once('data', () => socket.destroy()));
  const healthy = http.createServer((_req, res) => res.end('ok'));
  const [closingPort, healthyPort] = [await listen(closing), await listen(healthy)];
  stops.push(
    () => new Promise((r) => closing.close(r)),
    () => new Promise((r) => healthy.close(r)),
  );
  // Tagged as the lab's Envoys are, with Istio's tag names (cluster_name, response_code).
  const envoy = await startEnvoy(
    envoyBinary.path,
    { closing: closingPort, healthy: healthyPort },
    { statsConfig: istioStatsConfig },
  );
  stops.push(envoy.stop);

  const prometheus: Started = await startPrometheus(
    prometheusBinary.path,
    [
      { job: 'web-api', target: `127.0.0.1:${metricsPort}`, metricsPath: '/web-api/metrics' },
      { job: 'recipe-api', target: `127.0.0.1:${metricsPort}`, metricsPath: '/recipe-api/metrics' },
      { job: 'envoy', target: new URL(envoy.url).host, metricsPath: '/stats/prometheus' },
    ],
    readRuleFiles(rulesDir).map((r) => r.file),
  );
  stops.push(prometheus.stop);
  const promUrl = prometheus.url;

  // Traffic while Prometheus scrapes: contract observations and requests through Envoy.
  const traffic = setInterval(() => {
    observe();
    for (const p of ['/closing', '/ok'])
      fetch(`${envoy.listener}${p}`).then(
        (r) => r.arrayBuffer(),
        () => undefined,
      );
  }, 200);
  stops.push(async () => clearInterval(traffic));

  // rate() over the 1m window needs two samples of a moving counter in EVERY target (a check on
  // one target's rate let another target with a single sample through: an empty panel, once in
  // five runs); histogram_quantile over Envoy's upstream_rq_time needs two flushed histograms.
  const trafficStarted = Date.now();
  await waitForScrape(promUrl, trafficStarted, { timeoutMs: 30000 });
  await waitForScrape(promUrl, Date.now(), { timeoutMs: 30000 });
  await waitFor(
    async () => (await query(promUrl, 'sum(rate(envoy_cluster_upstream_rq_time_count[1m])) > 0')).length > 0,
    { timeoutMs: 30000, intervalMs: 500, what: 'two flushed Envoy histograms' },
  );

  const rows: PanelRow[] = await evaluatePanels(promUrl, dashboardsDir);
  const table = formatPanelTable(rows);
  t.diagnostic(`\n${table}`);
  const run = rows.filter((r) => !r.skipped);
  assert.ok(run.length > 60, `expected the dashboards' queries, got ${run.length}`);
  assert.ok(allPanelsHaveData(rows), `panels without data:\n${table}`);
  assert.ok(
    rows.some((r) => r.skipped),
    'the Istio targets are skipped in the lab',
  );

  // The Mesh dashboard's cluster variable and its `by (cluster_name)` panels find the lab's clusters.
  const clusters = (await query(promUrl, 'count by (cluster_name) (envoy_cluster_upstream_rq_total)'))
    .map((r) => r.metric.cluster_name)
    .sort();
  assert.deepEqual(clusters, ['inbound|3000||', 'inbound|4000||']);

  // The 503-uc panel's lab equivalent shows the UC events (Mesh and Experiments dashboards).
  const uc = rows.filter((r) => r.panel === ucPanel.title && !r.skipped);
  assert.equal(uc.length, 2);
  for (const r of uc) assert.ok((r.latestValue ?? 0) > 0, `503 UC lab panel reads ${r.latestValue} on ${r.dashboard}`);

  // Exemplars: every exemplar-enabled query returns trace ids from Prometheus's exemplar storage.
  const now = Date.now() / 1000;
  const exemplarTargets = panelTargets(dashboardsDir).filter((x) => x.exemplar);
  assert.ok(exemplarTargets.length >= 10);
  for (const target of exemplarTargets) {
    const expr = rows.find(
      (r) => r.dashboardUid === target.dashboardUid && r.panelId === target.panelId && r.refId === target.refId,
    )!.expr;
    const url = `${promUrl}/api/v1/query_exemplars?query=${encodeURIComponent(expr)}&start=${now - 60}&end=${now + 5}`;
    const body = (await (await fetch(url)).json()) as {
      data: Array<{ exemplars: Array<{ labels: Record<string, string> }> }>;
    };
    const traceIds = body.data.flatMap((s) => s.exemplars.map((e) => e.labels.trace_id));
    assert.ok(
      traceIds.length > 0 && traceIds.every((id) => /^[0-9a-f]{32}$/.test(id ?? '')),
      `${target.dashboard} / ${target.panel}: no trace_id exemplars`,
    );
  }

  // Rules: all loaded healthy; every recording rule that reads no Istio metric records series.
  const istio = new Set(
    readMeshMetrics(meshMetricsFile)
      .filter((m) => m.source === 'istio')
      .map((m) => m.name),
  );
  const body = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as {
    data: {
      groups: Array<{
        rules: Array<{ name: string; type: string; query: string; health: string; lastError?: string }>;
      }>;
    };
  };
  const rules = body.data.groups.flatMap((g) => g.rules);
  assert.equal(rules.length, readRuleFiles(rulesDir).flatMap((f) => f.rules.groups.flatMap((g) => g.rules)).length);
  for (const rule of rules)
    assert.equal(
      rule.health === 'ok' || rule.health === 'unknown',
      true,
      `${rule.name}: ${rule.health} ${rule.lastError ?? ''}`,
    );
  const recording = rules.filter(
    (r) =>
      r.type === 'recording' &&
      !selectedMetrics(r.query).names.some((n) => [...istio].some((i) => n.startsWith(i.replace(/_total$/, '')))),
  );
  await waitFor(
    async () => {
      for (const r of recording) if ((await query(promUrl, r.name)).length === 0) return false;
      return true;
    },
    {
      timeoutMs: 15000,
      intervalMs: 500,
      what: `series for every recording rule (${recording.map((r) => r.name).join(', ')})`,
    },
  );
});

test('the panel check fails on a panel whose query finds nothing', { skip, timeout: 60000 }, async (t) => {
  assertFound(prometheusBinary);
  const dir = await mkdtemp(path.join(tmpdir(), 'grafana-bad-dashboards-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'dashboards'));
  const dashboard = {
    uid: 'bad',
    title: 'bad',
    templating: { list: [] },
    panels: [
      {
        id: 1,
        type: 'timeseries',
        title: 'missing metric',
        targets: [{ refId: 'A', expr: 'sum(rate(no_such_metric_total[$__rate_interval]))' }],
      },
      {
        id: 2,
        type: 'timeseries',
        title: 'broken query',
        targets: [{ refId: 'A', expr: 'sum(rate(up[$__rate_interval])' }],
      },
    ],
  };
  await writeFile(path.join(dir, 'dashboards', 'bad.json'), JSON.stringify(dashboard));
  const prometheus = await startPrometheus(prometheusBinary.path, []);
  t.after(prometheus.stop);
  const rows = await evaluatePanels(prometheus.url, path.join(dir, 'dashboards'));
  assert.equal(rows[0]!.series, 0);
  assert.match(rows[1]!.error ?? '', /parse error/);
  assert.equal(allPanelsHaveData(rows), false);
});
