/**
 * The pure parts of `make cluster-up` (k8s/kube): socket addresses as /proc/net/tcp writes them,
 * the kwok Stages that leave the data plane's pods alone, which access-log line belongs to which
 * instance, Istio's probe rewrite undone, when an istio/faults component holds in live objects, a
 * pod's own env, and the redis pod's `kubectl exec` wrapper.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { readComponent } from '@recipe-mesh/experiments/mesh/components';
import { parseAllDocuments } from 'yaml';
import { requireBinary } from '@recipe-mesh/measure/binaries';
import { appProbe, envHolds, inboundInstanceOf, type Pod, podEnvChanges } from '../kube/data-plane.js';
import { podExec, redisPortEnv, writeExecWrappers } from '../kube/pod-exec.js';
import { writePodStagesExcept } from '../kube/kwok-stages.js';
import { decodeAddress, isLoopbackOrUnspecified } from '../kube/loopback.js';
import { componentHolds } from '../kube/mesh-follower.js';
import { repoRoot } from './lib/repo.js';

test('/proc/net/tcp addresses decode, and only loopback or unspecified peers pass', () => {
  assert.equal(decodeAddress('0100007F:1F90'), '127.0.0.1:8080');
  assert.equal(decodeAddress('0100000A:0FA0'), '10.0.0.1:4000');
  assert.equal(decodeAddress('0000000000000000FFFF00000100007F:0050'), '127.0.0.1:80');
  assert.equal(decodeAddress('00000000000000000000000001000000:0050'), '[0:0:0:0:0:0:0:1]:80');
  for (const ok of ['127.0.0.1:8080', '127.3.2.1:1', '0.0.0.0:0', '[0:0:0:0:0:0:0:1]:80', '[0:0:0:0:0:0:0:0]:0'])
    assert.ok(isLoopbackOrUnspecified(ok), ok);
  for (const bad of ['10.0.1.2:4000', '10.96.0.1:443', '192.168.1.1:53', '[fe80:0:0:0:0:0:0:1]:80'])
    assert.ok(!isLoopbackOrUnspecified(bad), bad);
});

test("kwok's pod Stages exclude the data plane's pods by label, every Stage of them", () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-stages-'));
  try {
    const source = path.join(dir, 'pod-fast.yaml');
    writeFileSync(
      source,
      'kind: Stage\nmetadata: {name: pod-ready}\nspec:\n  selector:\n    matchExpressions: [{key: .status.phase, operator: In, values: [Pending]}]\n---\nkind: Stage\nmetadata: {name: pod-delete}\nspec: {}\n',
    );
    const out = writePodStagesExcept(source, path.join(dir, 'out.yaml'), { key: 'app', values: ['web-api'] });
    const stages = parseAllDocuments(readFileSync(out, 'utf8')).map((d) => d.toJS());
    assert.equal(stages.length, 2);
    for (const stage of stages)
      assert.deepEqual(stage.spec.selector.matchExpressions.at(-1), {
        key: '.metadata.labels.app',
        operator: 'NotIn',
        values: ['web-api'],
      });
    assert.equal(stages[0].spec.selector.matchExpressions.length, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an inbound access-log line belongs to its instance's pod; an outbound one to none in particular", () => {
  const line = (cluster: string) =>
    `[2026-12-07T22:25:05.609Z] "GET /recipes/42 HTTP/1.1" 200 - via_upstream - "-" 0 653 59 58 "-" "-" "f041" "127.0.0.1:35035" "127.0.0.1:36009" ${cluster} 127.0.0.1:43118 127.0.0.1:46387 127.0.0.1:57084 - default`;
  assert.equal(inboundInstanceOf(line('inbound|4000||recipe-api-3'), 'recipe-api'), 'recipe-api-3');
  assert.equal(inboundInstanceOf(line('inbound|4000||'), 'recipe-api'), 'recipe-api');
  assert.equal(inboundInstanceOf(line('outbound|4000|v1|recipe-api.recipe-mesh.svc.cluster.local'), 'web-api'), null);
});

test("Istio's /app-health probe rewrite is followed back to the app's own path", () => {
  const probe = { httpGet: { path: '/app-health/recipe-api/readyz', port: 15020 }, periodSeconds: 5 };
  const pod = {
    metadata: { name: 'p', namespace: 'n', uid: 'u' },
    spec: {
      containers: [{ name: 'recipe-api' }],
      initContainers: [
        {
          name: 'istio-proxy',
          env: [
            {
              name: 'ISTIO_KUBE_APP_PROBERS',
              value: JSON.stringify({ '/app-health/recipe-api/readyz': { httpGet: { path: '/readyz', port: 9465 } } }),
            },
          ],
        },
      ],
    },
  } satisfies Pod;
  assert.deepEqual(appProbe(pod, probe), { httpGet: { path: '/readyz', port: 15020 }, periodSeconds: 5 });
  const plain = { httpGet: { path: '/readyz', port: 9465 } };
  assert.equal(appProbe(pod, plain), plain);
});

test('an istio/faults component holds when every field it patches has its value, whatever the key order', () => {
  const patches = readComponent('circuit-breaker', repoRoot);
  const objects = patches.map((p) => ({
    kind: p.kind,
    metadata: { name: p.name },
    spec: {} as Record<string, unknown>,
  }));
  assert.equal(componentHolds(patches, objects), false);
  for (const patch of patches) {
    const object = objects.find((o) => o.kind === patch.kind && o.metadata.name === patch.name)!;
    for (const op of patch.ops) {
      const keys = op.path.split('/').slice(2);
      let at = object.spec;
      for (const key of keys.slice(0, -1)) at = (at[key] ??= {}) as Record<string, unknown>;
      // The API server returns keys sorted: reverse them to prove order does not matter.
      at[keys.at(-1)!] = JSON.parse(
        JSON.stringify(op.value, (_, v) =>
          v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v,
        ),
      );
    }
  }
  assert.equal(componentHolds(patches, objects), true);
});

test("a pod's env beyond the manifests reaches its instance; a name an earlier pod set and this one lacks is dropped", () => {
  const manifestEnv = { PORT: '4000', REDIS_URL: 'redis://redis:6379' };
  const container = {
    name: 'recipe-api',
    env: [
      { name: 'POD_NAME' },
      { name: 'PORT', value: '4000' },
      { name: 'REDIS_URL', value: 'redis://redis:6379' },
      { name: 'FAULTS', value: '{"gracefulShutdown":false}' },
    ],
  };
  const changes = podEnvChanges(container, manifestEnv, ['SCAN_COUNT']);
  assert.deepEqual(changes, { SCAN_COUNT: null, FAULTS: '{"gracefulShutdown":false}' });
  assert.ok(envHolds({ PORT: '41234', FAULTS: '{"gracefulShutdown":false}' }, changes));
  assert.ok(!envHolds({ FAULTS: '{"gracefulShutdown":false}', SCAN_COUNT: '10' }, changes));
  assert.ok(!envHolds({}, changes));
  assert.deepEqual(podEnvChanges({ name: 'recipe-api' }, manifestEnv, ['FAULTS']), { FAULTS: null });
});

const redisCli = requireBinary('redis-cli');
test("redis-cli in the redis pod's exec reaches the port its Exec names, and refuses without one", {
  skip: 'skip' in redisCli ? redisCli.skip : false,
}, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-exec-'));
  try {
    const wrapper = path.join(writeExecWrappers(dir), 'redis-cli');
    const run = (env: Record<string, string>) =>
      spawnSync(wrapper, ['PING'], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env }, timeout: 10_000 });
    const refused = run({});
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, new RegExp(redisPortEnv));
    // Nothing listens on port 1: the error names the address the wrapper dialled.
    const pinned = run({ [redisPortEnv]: '1' });
    assert.match(`${pinned.stdout}${pinned.stderr}`, /127\.0\.0\.1:1\b/);
    assert.deepEqual(podExec({ name: 'redis-0', namespace: 'recipe-mesh' }, { [redisPortEnv]: '1' }), {
      apiVersion: 'kwok.x-k8s.io/v1alpha1',
      kind: 'Exec',
      metadata: { name: 'redis-0', namespace: 'recipe-mesh' },
      spec: { execs: [{ local: { envs: [{ name: redisPortEnv, value: '1' }] } }] },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
