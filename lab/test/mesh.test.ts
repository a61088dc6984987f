import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { test } from 'node:test';
import { requireBinary } from '@recipe-mesh/measure/binaries';
import { portIsOpen, waitFor } from '@recipe-mesh/measure/net';
import { applyMeshConfig, currentMesh, labStatus, startLab, stopLab } from '../src/lab.js';
import { readAccessLog } from '@recipe-mesh/measure/access-log';
import { patchListener } from '../src/mesh/description.js';
import { runLoad } from '@recipe-mesh/measure/load';
import { PortsTakenError } from '../src/ports.js';
import { startLabOnFreePorts } from '../src/private-lab.js';
import { findTrace } from '../src/trace/store.js';
import { alivePids, freeLabPorts, standIn, tempStateDir } from './helpers.js';

const envoy = requireBinary('envoy');
const prometheus = requireBinary('prometheus');
const redis = requireBinary('redis-server');

const traceparent = () => {
  const traceId = randomBytes(16).toString('hex');
  return { traceId, header: `00-${traceId}-${randomBytes(8).toString('hex')}-01` };
};

test('the mesh: ingress and sidecars route all three protocols, log, trace, export metrics and take config changes live', {
  skip: 'skip' in envoy ? envoy.skip : false,
  timeout: 180_000,
}, async (t) => {
  const stateDir = tempStateDir(t);
  t.after(() => stopLab({ stateDir, graceMs: 3000 }));
  const { ports, state } = await startLabOnFreePorts({
    stateDir,
    apps: { webApi: standIn('web-api'), recipeApi: standIn('recipe-api') },
    scrapeIntervalSeconds: 1,
  });
  assert.equal(state.mode, 'mesh');
  assert.equal(state.endpoints.publicUrl, `http://127.0.0.1:${ports.ingress}`);
  const names = state.processes.map((p) => p.name);
  for (const name of ['trace-sink', 'web-api', 'recipe-api', 'ingress', 'web-api-sidecar', 'recipe-api-sidecar'])
    assert.ok(names.includes(name), name);
  assert.equal(names.includes('redis'), !('skip' in redis));
  assert.equal(names.includes('prometheus'), !('skip' in prometheus));

  await t.test('GET /api/recipes/42?via=http|graphql|grpc through the ingress answers 200 with flag -', async () => {
    const started = Date.now() - 1000;
    const traces: string[] = [];
    for (const via of ['http', 'graphql', 'grpc']) {
      const tp = traceparent();
      traces.push(tp.traceId);
      const res = await fetch(`${state.endpoints.publicUrl}/api/recipes/42?via=${via}`, {
        headers: { traceparent: tp.header },
      });
      assert.equal(res.status, 200, `${via}: ${await res.text()}`);
      assert.equal(res.headers.get('x-lab-response-flags'), '-');
    }
    // Every hop wrote an Istio-format line with flag -: ingress 3, web-api sidecar 3 inbound +
    // 3 outbound, recipe-api sidecar 3 inbound (2 over HTTP/1.1, 1 gRPC over HTTP/2).
    const logs = state.endpoints.accessLogs;
    const entries = async (proxy: string) => readAccessLog(logs[proxy]!, started);
    const ingress = await waitFor(async () => ((await entries('ingress')).length === 3 ? entries('ingress') : null), {
      what: 'ingress access log',
    });
    const web = await waitFor(
      async () => ((await entries('web-api-sidecar')).length === 6 ? entries('web-api-sidecar') : null),
      { what: 'web-api sidecar log' },
    );
    const recipe = await waitFor(
      async () => ((await entries('recipe-api-sidecar')).length === 3 ? entries('recipe-api-sidecar') : null),
      { what: 'recipe-api sidecar log' },
    );
    for (const e of [...ingress, ...web, ...recipe]) {
      assert.deepEqual(e.responseFlags, [], e.raw);
      assert.equal(e.responseCode, 200, e.raw);
    }
    assert.deepEqual(
      // The manifests' two web-api instances: a request goes through either one's inbound cluster.
      new Set(web.map((e) => e.upstreamCluster?.replace('inbound|3000||web-api-2', 'inbound|3000||'))),
      new Set([
        'inbound|3000||',
        'outbound|4000|v1|recipe-api.recipe-mesh.svc.cluster.local',
        'outbound|4001|v1|recipe-api.recipe-mesh.svc.cluster.local',
      ]),
    );
    assert.ok(
      // Either recipe-api instance's inbound gRPC cluster (the second's carries its name).
      recipe.some((e) => e.protocol === 'HTTP/2' && e.upstreamCluster?.startsWith('inbound|4001||')),
      'gRPC reached the app over HTTP/2',
    );

    // Each request is one trace holding the ingress and both sidecars' spans.
    for (const traceId of traces) {
      const spans = await waitFor(
        async () => {
          const s = await findTrace(state.endpoints.spansFile, traceId);
          return s.length >= 4 ? s : null;
        },
        { what: `trace ${traceId}`, timeoutMs: 10_000 },
      );
      assert.deepEqual(
        new Set(spans.map((s) => s.service)),
        new Set(['istio-ingressgateway', 'web-api.recipe-mesh', 'recipe-api.recipe-mesh']),
      );
      const kinds = spans
        .filter((s) => s.service === 'web-api.recipe-mesh')
        .map((s) => s.kind)
        .sort();
      assert.deepEqual(kinds, ['CLIENT', 'SERVER']);
    }
  });

  await t.test(
    'Prometheus scrapes the apps and every Envoy',
    { skip: 'skip' in prometheus ? prometheus.skip : false },
    async () => {
      const query = async (q: string) => {
        const res = await fetch(`${state.endpoints.prometheusUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
        const body = (await res.json()) as { data: { result: { metric: Record<string, string> }[] } };
        return body.data.result;
      };
      const envoySeries = await waitFor(
        async () => {
          const r = await query('envoy_server_live');
          return r.length === 3 ? r : null;
        },
        { timeoutMs: 20_000, what: 'envoy series in prometheus' },
      );
      assert.deepEqual(
        new Set(envoySeries.map((s) => s.metric.proxy)),
        new Set(['ingress', 'web-api-sidecar', 'recipe-api-sidecar']),
      );
      const appSeries = await waitFor(
        async () => {
          const r = await query('standin_requests_total');
          // One series per instance (labelled pod): the manifests' two of each service.
          return r.length === state.processes.filter((p) => p.instance).length ? r : null;
        },
        { timeoutMs: 20_000, what: 'app series in prometheus' },
      );
      assert.deepEqual(new Set(appSeries.map((s) => s.metric.job)), new Set(['web-api', 'recipe-api']));
    },
  );

  await t.test(
    'applyMeshConfig: a fault abort and a delay reach requests live, and removing them restores answers',
    async () => {
      const base = currentMesh({ stateDir });
      const aborting = patchListener(base, 'web-api-sidecar', 'outbound-recipe-api-http', {
        route: { fault: { abort: { httpStatus: 503, percent: 100 } } },
      });
      const applied = await applyMeshConfig(aborting, { stateDir });
      assert.deepEqual(applied.changed['web-api-sidecar'], ['rds:outbound-recipe-api-http']);
      assert.deepEqual(applied.changed.ingress, []);
      const started = Date.now() - 1000;
      const res = await fetch(`${state.endpoints.publicUrl}/api/recipes/42?via=http`);
      assert.equal(res.status, 502, 'the stand-in web-api answers 502 when recipe-api fails');
      assert.equal(JSON.parse(await res.text()).upstream, 503);
      const faulted = await waitFor(
        async () =>
          (await readAccessLog(state.endpoints.accessLogs['web-api-sidecar']!, started)).find((e) =>
            e.responseFlags.includes('FI'),
          ),
        { what: 'FI line' },
      );
      assert.equal(faulted.responseCode, 503);
      // gRPC goes through the other outbound listener, untouched by the fault.
      assert.equal((await fetch(`${state.endpoints.publicUrl}/api/recipes/42?via=grpc`)).status, 200);

      const delayed = patchListener(base, 'ingress', 'gateway-http', {
        route: { fault: { delay: { fixedDelayMs: 200, percent: 100 } } },
      });
      await applyMeshConfig(delayed, { stateDir });
      const slow = await runLoad({
        baseUrl: state.endpoints.publicUrl,
        path: '/api/recipes/42',
        via: 'http',
        mode: { kind: 'concurrency', connections: 2 },
        durationMs: 1500,
      });
      assert.ok((slow.summary.latencyMs.p50 ?? 0) >= 200, `p50 ${slow.summary.latencyMs.p50} ms with a 200 ms delay`);
      assert.deepEqual(Object.keys(slow.summary.byStatus), ['200']);
      assert.deepEqual(
        slow.summary.byOutcome,
        { '200 DI': slow.summary.requests },
        'the ingress reports its delay flag',
      );

      await applyMeshConfig(base, { stateDir });
      const fast = await runLoad({
        baseUrl: state.endpoints.publicUrl,
        path: '/api/recipes/42',
        via: 'http',
        mode: { kind: 'concurrency', connections: 2 },
        durationMs: 1500,
      });
      assert.ok(
        (fast.summary.latencyMs.p50 ?? Infinity) < 100,
        `p50 ${fast.summary.latencyMs.p50} ms after removing the delay`,
      );
      assert.deepEqual(fast.summary.byOutcome, { '200 -': fast.summary.requests });
    },
  );

  await t.test(
    'applyMeshConfig: a cluster change (idle timeout) loads through CDS; a bad one is rejected with the reason',
    async () => {
      const base = currentMesh({ stateDir });
      const shortIdle = patchListener(base, 'recipe-api-sidecar', 'inbound-http', {
        upstream: { idleTimeoutMs: 4000 },
      });
      const applied = await applyMeshConfig(shortIdle, { stateDir });
      assert.deepEqual(applied.changed['recipe-api-sidecar'], ['cds']);
      const dump = await (
        await fetch(
          `${state.endpoints.envoyAdminUrls['recipe-api-sidecar']}/config_dump?resource=dynamic_active_clusters`,
        )
      ).text();
      assert.match(dump, /"idle_timeout": "4s"/);
      // Envoy validates fault abort statuses to [200, 600): this route config cannot load.
      const broken = patchListener(base, 'recipe-api-sidecar', 'inbound-http', {
        route: { fault: { abort: { httpStatus: 42, percent: 100 } } },
      });
      await assert.rejects(applyMeshConfig(broken, { stateDir }), /recipe-api-sidecar rejected rds:inbound-http/);
      await applyMeshConfig(base, { stateDir });
    },
  );

  await t.test('up twice is refused with the reason; a taken port is reported by name', async () => {
    await assert.rejects(startLab({ stateDir, ports }), /already up .*Run `npm run lab -- down`/s);
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    t.after(() => blocker.close());
    const otherState = tempStateDir(t);
    const error = await startLab({
      stateDir: otherState,
      ports: { ...(await freeLabPorts()), ingress: port },
      use: { prometheus: false, redis: false },
    }).catch((e: unknown) => e);
    assert.ok(error instanceof PortsTakenError);
    assert.match(error.message, new RegExp(`port ${port} \\(ingress gateway-http\\) is already in use`));
  });

  await t.test('down stops every process and frees every port', async () => {
    const status = await labStatus({ stateDir });
    assert.ok(status.processes.every((p) => p.running && p.ready));
    const pids = status.processes.map((p) => p.pid);
    const report = await stopLab({ stateDir });
    assert.deepEqual(report.portsStillBound, []);
    assert.deepEqual(alivePids(pids), []);
    for (const port of Object.values(ports)) assert.equal(await portIsOpen(port), false, `port ${port}`);
    assert.equal((await labStatus({ stateDir })).up, false);
  });
});
