import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { requireBinary } from '@recipe-mesh/measure/binaries';
import { portIsOpen, waitFor } from '@recipe-mesh/measure/net';
import { startLab, stopLab, type LabState } from '../src/lab.js';
import { readAccessLog } from '@recipe-mesh/measure/access-log';
import { runLoad } from '@recipe-mesh/measure/load';
import { findTrace } from '../src/trace/store.js';
import { renderWaterfall } from '../src/trace/waterfall.js';
import { alivePids, freeLabPorts } from './helpers.js';
import { repoRoot } from '@recipe-mesh/measure/repo';

/**
 * The end-to-end check, with the real services, Envoy, Redis and Prometheus: every
 * protocol path answers through the ingress, every hop logs flag `-`, Prometheus holds app and
 * Envoy series, and one trace joins ingress, sidecar, app and Redis spans.
 */
const services = ['services/web-api/src/main.ts', 'services/recipe-api/src/main.ts'];
const missingService = services.find((f) => !existsSync(path.join(repoRoot, f)));
const binaries = ['envoy', 'redis-server', 'prometheus'].map((b) => requireBinary(b));
const skip = missingService
  ? `${missingService} does not exist yet`
  : binaries.map((b) => ('skip' in b ? b.skip : '')).find(Boolean) || false;

test('lab up with the real services: three protocol paths, access logs, metrics, one joined trace, faults, down', {
  skip,
  timeout: 240_000,
}, async (t) => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-lab-e2e-'));
  const ports = await freeLabPorts();
  let failed = false;
  let state: LabState | undefined;
  t.after(async () => {
    // On a failure, the processes' last log lines say more than the assertion.
    for (const p of failed ? (state?.processes ?? []) : []) {
      const text = await readFile(p.log, 'utf8').catch(() => '');
      t.diagnostic(`${p.name} log tail:\n${text.trimEnd().split('\n').slice(-8).join('\n')}`);
    }
    await stopLab({ stateDir, graceMs: 12_000 });
    rmSync(stateDir, { recursive: true, force: true });
  });
  const step = (name: string, fn: () => Promise<void>) =>
    t.test(name, async () => {
      try {
        await fn();
      } catch (error) {
        failed = true;
        throw error;
      }
    });
  try {
    state = await startLab({ stateDir, ports, scrapeIntervalSeconds: 1, readyTimeoutMs: 120_000 });
  } catch (error) {
    failed = true;
    throw error;
  }
  const lab = state;
  assert.equal(lab.mode, 'mesh');
  const base = lab.endpoints.publicUrl;

  await step(
    'GET /api/recipes/42?via=http|graphql|grpc through the ingress: 200, and flag - on every hop',
    async () => {
      const since = Date.now() - 1000;
      for (const via of ['http', 'graphql', 'grpc']) {
        const res = await fetch(`${base}/api/recipes/42?via=${via}`);
        assert.equal(res.status, 200, `${via}: ${await res.text()}`);
        assert.equal(res.headers.get('x-lab-response-flags'), '-');
      }
      const counts: Record<string, number> = { ingress: 3, 'web-api-sidecar': 6, 'recipe-api-sidecar': 3 };
      for (const [proxy, expected] of Object.entries(counts)) {
        const entries = await waitFor(
          async () => {
            const e = await readAccessLog(lab.endpoints.accessLogs[proxy]!, since);
            return e.length >= expected ? e : null;
          },
          { what: `${expected} access-log lines from ${proxy}` },
        );
        for (const e of entries) assert.deepEqual(e.responseFlags, [], `${proxy}: ${e.raw}`);
      }
    },
  );

  await step('Prometheus returns series for the apps’ and Envoy’s metrics', async () => {
    const query = async (q: string) => {
      const res = await fetch(`${lab.endpoints.prometheusUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
      return ((await res.json()) as { data: { result: { metric: Record<string, string> }[] } }).data.result;
    };
    const apps = await waitFor(
      async () => {
        const r = await query('sum by (job) (http_server_request_duration_seconds_count)');
        return r.length === 2 ? r : null;
      },
      { timeoutMs: 20_000, what: 'app histograms in prometheus' },
    );
    assert.deepEqual(new Set(apps.map((s) => s.metric.job)), new Set(['web-api', 'recipe-api']));
    const envoy = await waitFor(
      async () => {
        const r = await query('sum by (proxy) (envoy_cluster_upstream_rq_total)');
        return r.length === 3 ? r : null;
      },
      { timeoutMs: 20_000, what: 'envoy series in prometheus' },
    );
    assert.deepEqual(
      new Set(envoy.map((s) => s.metric.proxy)),
      new Set(['ingress', 'web-api-sidecar', 'recipe-api-sidecar']),
    );
  });

  await step('the sink holds one trace with ingress, sidecar, web-api, recipe-api and Redis spans', async () => {
    const traceId = randomBytes(16).toString('hex');
    const res = await fetch(`${base}/api/recipes/43?via=http`, {
      headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
    });
    assert.equal(res.status, 200);
    const spans = await waitFor(
      async () => {
        const s = await findTrace(lab.endpoints.spansFile, traceId);
        const services = new Set(s.map((x) => x.service));
        const redis = s.some(
          (x) => x.attributes['db.system'] === 'redis' || x.attributes['db.system.name'] === 'redis',
        );
        return ['istio-ingressgateway', 'web-api.recipe-mesh', 'recipe-api.recipe-mesh', 'web-api', 'recipe-api'].every(
          (n) => services.has(n),
        ) && redis
          ? s
          : null;
      },
      { timeoutMs: 15_000, what: `trace ${traceId} with every hop` },
    );
    const waterfall = renderWaterfall(spans);
    assert.match(waterfall, /istio-ingressgateway/);
    assert.ok(spans.every((s) => s.traceId === traceId));
  });

  await step(
    'PUT /faults latency on recipe-api shows in p50 through the ingress; DELETE restores it; a bad document is refused',
    async () => {
      const faults = `${lab.endpoints.recipeApiAdminUrl}/faults`;
      const load = () =>
        runLoad({
          baseUrl: base,
          path: '/api/recipes/42',
          via: 'http',
          mode: { kind: 'concurrency', connections: 2 },
          durationMs: 2000,
        });
      // Every recipe-api instance (the manifests run two): a fault on one alone reaches half the requests.
      const allFaults = lab.processes
        .filter((p) => p.instance?.service === 'recipe-api')
        .map((p) => `http://127.0.0.1:${p.instance!.appPorts.admin}/faults`);
      const before = await load();
      for (const url of allFaults) {
        const put = await fetch(url, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ latency: { ms: 200, percent: 100 } }),
        });
        assert.equal(put.status, 200, await put.text());
      }
      const during = await load();
      assert.ok(
        (during.summary.latencyMs.p50 ?? 0) >= 200,
        `p50 ${during.summary.latencyMs.p50} ms with 200 ms injected`,
      );
      const bad = await fetch(faults, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ latency: { ms: -5 } }),
      });
      assert.equal(bad.status, 400);
      const kept = (await (await fetch(faults)).json()) as { latency?: { ms: number } };
      assert.equal(kept.latency?.ms, 200, 'a refused document changes nothing');
      for (const url of allFaults) assert.ok([200, 204].includes((await fetch(url, { method: 'DELETE' })).status));
      const after = await load();
      assert.ok(
        (after.summary.latencyMs.p50 ?? Infinity) < (before.summary.latencyMs.p50 ?? 0) + 100,
        `p50 back to ${after.summary.latencyMs.p50} ms (was ${before.summary.latencyMs.p50})`,
      );
    },
  );

  await step('down leaves no lab process and no bound port', async () => {
    const pids = lab.processes.map((p) => p.pid);
    const report = await stopLab({ stateDir, graceMs: 12_000 });
    assert.deepEqual(report.killed, [], 'every process stopped on SIGTERM');
    assert.deepEqual(report.portsStillBound, []);
    assert.deepEqual(alivePids(pids), []);
    for (const port of Object.values(ports)) assert.equal(await portIsOpen(port), false, `port ${port}`);
  });
});
