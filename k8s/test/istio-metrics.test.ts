import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { envoyStatReads } from '../../grafana/test/lib/envoy-readers.js';
import { builtFile, controlPlaneSkipReason } from './lib/control-plane.js';
import { parseYamlDocuments } from './lib/kustomize.js';
import { exports, installedStatsMatcher, matchingEntries, type ProxyStatsMatcher } from './lib/proxy-stats.js';
import { repoPath } from './lib/repo.js';

/**
 * Istio's telemetry as istio/install/istio-operator.yaml installs it: the mesh config the pinned
 * istioctl generates has a Prometheus metrics provider (else no sidecar writes
 * istio_requests_total), and the sidecars' stats matcher lets through exactly the Envoy stats the
 * dashboards, rules and experiments read (grafana/test/lib/envoy-readers.ts).
 */

const istioctlSkip = controlPlaneSkipReason(['istio']);

interface MeshConfig {
  defaultProviders?: { metrics?: string[]; tracing?: string[] };
  extensionProviders?: Array<{ name: string; prometheus?: unknown }>;
  defaultConfig?: { proxyStatsMatcher?: ProxyStatsMatcher };
}

/**
 * `istioctl manifest generate -f <operator>`, the mesh config from the `istio` ConfigMap. It needs
 * no cluster; the kubeconfig names a closed loopback port so that nothing it might try can reach
 * a real one (without one istioctl would fall back to localhost:8080).
 */
function generatedMeshConfig(operatorFile: string): MeshConfig {
  const dir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-istioctl-'));
  try {
    const kubeconfig = path.join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'none', cluster: { server: 'https://127.0.0.1:9' } }],
        contexts: [{ name: 'none', context: { cluster: 'none', user: 'none' } }],
        users: [{ name: 'none', user: {} }],
        'current-context': 'none',
      }),
    );
    const run = spawnSync(
      builtFile('istio', 'istioctl')!,
      ['manifest', 'generate', '-f', operatorFile, '--kubeconfig', kubeconfig, '--context', 'none'],
      { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 120_000 },
    );
    assert.equal(run.status, 0, run.stderr);
    const istio = parseYamlDocuments(run.stdout).find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'istio');
    assert.ok(istio?.data?.mesh, 'no istio ConfigMap with a mesh key in the generated manifest');
    return parse(istio.data.mesh) as MeshConfig;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the mesh config istioctl generates from istio/install/istio-operator.yaml', {
  skip: istioctlSkip ?? false,
}, () => {
  test('has Prometheus as a default metrics provider, and keeps the tracing provider and the stats matcher', () => {
    const mesh = generatedMeshConfig(repoPath('istio/install/istio-operator.yaml'));
    assert.deepEqual(mesh.defaultProviders?.metrics, ['prometheus'], JSON.stringify(mesh.defaultProviders));
    assert.deepEqual(mesh.defaultProviders?.tracing, ['tempo']);
    assert.deepEqual(mesh.defaultConfig?.proxyStatsMatcher, installedStatsMatcher());
  });

  test('without `metrics` in defaultProviders, the chart leaves Prometheus out (the check can fail)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-operator-'));
    try {
      const operator = parse(readFileSync(repoPath('istio/install/istio-operator.yaml'), 'utf8'));
      delete operator.spec.meshConfig.defaultProviders.metrics;
      const file = path.join(dir, 'operator.yaml');
      writeFileSync(file, JSON.stringify(operator));
      assert.equal(generatedMeshConfig(file).defaultProviders?.metrics, undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the sidecars' proxyStatsMatcher", () => {
  const matcher = installedStatsMatcher();
  const reads = envoyStatReads();

  test('the readers are found: dashboards, rules and experiments each read Envoy stats', () => {
    for (const where of [/^dashboards\//, /^recipe-mesh-/, /^experiment /, /^experiments\/src\//])
      assert.ok(
        reads.some((r) => where.test(r.reader)),
        `no Envoy stat read by ${where}: ${JSON.stringify(reads.map((r) => r.reader))}`,
      );
  });

  test('exports every Envoy stat a dashboard, rule or experiment reads', () => {
    assert.deepEqual(
      reads.filter((r) => !exports(matcher, r.stat)).map((r) => `${r.reader}: ${r.name} (${r.stat})`),
      [],
      'read but not in istio/install/istio-operator.yaml proxyStatsMatcher',
    );
  });

  test('exports nothing else: every entry lets through a stat that is read', () => {
    const entries = [
      ...(matcher.inclusionPrefixes ?? []).map((p) => `prefix ${p}`),
      ...(matcher.inclusionSuffixes ?? []).map((s) => `suffix ${s}`),
      ...(matcher.inclusionRegexps ?? []).map((r) => `regex ${r}`),
    ];
    const used = new Set(reads.flatMap((r) => matchingEntries(matcher, r.stat)));
    assert.deepEqual(
      entries.filter((e) => !used.has(e)),
      [],
      'in proxyStatsMatcher but read by nothing',
    );
    // Neighbours of the stats read stay out.
    for (const stat of [
      'upstream_rq_completed',
      'upstream_cx_rx_bytes_total',
      'upstream_rq_pending_total',
      'internal.upstream_rq_503',
      'external.upstream_rq_2xx',
      'external.upstream_rq_time',
    ])
      assert.equal(exports(matcher, `cluster.outbound|4000||recipe-api.recipe-mesh.svc.cluster.local;.${stat}`), false);
  });

  test('a stat read and not listed fails the check', () => {
    const without = {
      ...matcher,
      inclusionSuffixes: matcher.inclusionSuffixes?.filter((s) => s !== 'upstream_rq_retry'),
    };
    assert.ok(reads.some((r) => !exports(without, r.stat) && r.name.endsWith('upstream_rq_retry')));
  });
});
