import { oversizedBytes } from '../src/incidents/upload-oom.js';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { requireBinary } from '@recipe-mesh/measure/binaries';
import { waitFor } from '@recipe-mesh/measure/net';
import { type RedisProcess, startRedis } from '@recipe-mesh/measure/redis-server';
import { Redis } from 'ioredis';
import { catalogue } from '../src/catalogue.js';
import type { Experiment } from '../src/definition.js';
import type { K8sLoadContext } from '../src/k8s-side.js';

/**
 * Each experiment's k8s load against a local HTTP server standing in for the ingress gateway
 * (and, where the load needs one, a pod's port and Redis): what it sends is what the lab sends —
 * bursts with idle gaps for 503-uc, aborted downloads, multipart uploads, POSTs with bodies,
 * seeded views and invalidations — and it enters through the ingress address, calling kubectl
 * only for the drills (a rollout, a Redis stall).
 */
interface Seen {
  method: string;
  path: string;
  contentType: string | undefined;
  userId: string | undefined;
  bodyBytes: number;
  atMs: number;
  /** The client went away before the answer ended. */
  aborted: boolean;
}

const seen: Seen[] = [];
// Larger than loopback socket buffers hold, so an abort halfway leaves the answer unfinished.
const exportBytes = 16 << 20;
const server = http.createServer((req, res) => {
  const entry: Seen = {
    method: req.method ?? '',
    path: req.url ?? '',
    contentType: req.headers['content-type'],
    userId: req.headers['x-user-id'] as string | undefined,
    bodyBytes: 0,
    atMs: Date.now(),
    aborted: false,
  };
  seen.push(entry);
  res.on('close', () => {
    entry.aborted = !res.writableFinished;
  });
  req.on('data', (chunk: Buffer) => {
    entry.bodyBytes += chunk.length;
  });
  req.on('end', () => {
    if (entry.path.startsWith('/api/recipes/export')) {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      const chunk = Buffer.alloc(16 * 1024, 0x61);
      let sent = 0;
      const pump = () => {
        while (sent < exportBytes) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
      return;
    }
    res.writeHead(entry.method === 'POST' && entry.path.startsWith('/api/recipes') ? 201 : 200, {
      'content-type': 'application/json',
    });
    res.end('{"ok":true}');
  });
});
let base = '';
let redis: RedisProcess | undefined;
const redisBinary = requireBinary('redis-server');

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  if ('path' in redisBinary) redis = await startRedis(redisBinary.path);
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await redis?.stop();
});

const byName = (name: string) => (catalogue as Experiment<unknown>[]).find((e) => e.name === name)!;

async function drive(name: string, durationS: number) {
  seen.length = 0;
  const kubectl: string[][] = [];
  const podUrls: string[] = [];
  const restores: (() => Promise<void>)[] = [];
  const ctx: K8sLoadContext = {
    ingress: base,
    durationS,
    log: () => {},
    kubectl: async (args) => {
      kubectl.push(args);
      return '';
    },
    podUrl: async (service, port) => {
      podUrls.push(`${service}:${port}`);
      if (service === 'redis') {
        assert.ok(redis, 'redis-server needed');
        return `http://127.0.0.1:${redis.port}`;
      }
      return base;
    },
    onRestore: (_label, undo) => restores.push(undo),
  };
  const records = await byName(name).k8s.load.drive(ctx);
  return { records, kubectl, podUrls, restores, requests: [...seen] };
}

test('503-uc sends bursts through the ingress with idle gaps near the idle close, never a steady stream', async () => {
  const { records, requests, podUrls } = await drive('503-uc', 5);
  assert.deepEqual(podUrls, []);
  assert.ok(requests.every((r) => r.method === 'GET' && /^\/api\/recipes\/\d+\?via=http$/.test(r.path)));
  const bursts = new Set(records.map((r) => r.burst));
  // Requests arrive in groups of 20 separated by gaps of about 1.5 s (500 ms keepAliveTimeout + Node's 1 s).
  const times = requests.map((r) => r.atMs).sort((a, b) => a - b);
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  const idleGaps = gaps.filter((g) => g >= 1000);
  assert.ok(idleGaps.length >= 2, `gaps ${JSON.stringify(gaps.filter((g) => g > 50))}`);
  assert.equal(records.length % 20, 0);
  assert.equal(requests.length, records.length);
  assert.ok(bursts.size >= 1);
});

test('client-abort-leak aborts its downloads halfway, after one full one', async () => {
  const { records, requests } = await drive('client-abort-leak', 1);
  const exports = requests.filter((r) => r.path === '/api/recipes/export');
  assert.equal(exports.length, 2 + records.length);
  // The server sees each abort as its socket closes, a moment after the client went away.
  await waitFor(() => exports.filter((r) => r.aborted).length === 1 + records.length, {
    timeoutMs: 5000,
    intervalMs: 50,
    what: `${1 + records.length} aborted downloads seen by the server`,
  });
  assert.ok(records.length >= 8 && records.every((r) => r.error === 'aborted by client' && r.bytes >= exportBytes / 2));
});

test("upload-oom sends multipart uploads, the lab's sizes, to a recipe-api pod's port", async () => {
  const { records, requests, podUrls } = await drive('upload-oom', 1);
  // One forward per upload: kubectl port-forward quits on the broken pipe a 413 leaves.
  assert.deepEqual(podUrls, Array(5).fill('recipe-api:http'));
  const uploads = requests.filter((r) => r.method === 'POST' && r.path === '/recipes/42/photo');
  assert.equal(uploads.length, 5);
  assert.ok(uploads.every((u) => u.contentType?.startsWith('multipart/form-data; boundary=')));
  assert.ok(uploads[0]!.bodyBytes > 256 * 1024 && uploads[0]!.bodyBytes < 257 * 1024);
  // The lab's upload size (sized to the manifests' memory limit), multipart framing on top.
  assert.ok(uploads.slice(1).every((u) => u.bodyBytes > oversizedBytes));
  assert.equal(records.length, 4);
});

test('post-retry-duplicates POSTs a JSON recipe, each with its own name and no Idempotency-Key', async () => {
  const { records, requests } = await drive('post-retry-duplicates', 1);
  assert.ok(records.length >= 10);
  assert.ok(
    requests.every(
      (r) => r.method === 'POST' && r.path === '/api/recipes?via=http' && r.contentType === 'application/json',
    ),
  );
  assert.ok(requests.every((r) => r.bodyBytes > 50));
});

test('rollout-503 restarts the Deployment with kubectl while its load runs through the ingress', async () => {
  const rollout = await drive('rollout-503', 1);
  assert.deepEqual(rollout.kubectl, [
    ['rollout', 'restart', 'deployment/recipe-api'],
    ['rollout', 'status', 'deployment/recipe-api', '--timeout=180s'],
  ]);
  assert.ok(rollout.records.length > 100);
  const first = rollout.records[0]!.startedAtMs;
  assert.ok(
    rollout.records.some((r) => r.startedAtMs - first < 1000),
    'load before the rollout',
  );
});

test('redis-scan-latency seeds its views itself, reads with x-user-id and invalidates through the ingress, and removes the seed at restore', {
  skip: 'skip' in redisBinary ? redisBinary.skip : false,
  timeout: 120_000,
}, async () => {
  const { records, requests, podUrls, restores } = await drive('redis-scan-latency', 1);
  assert.deepEqual(podUrls, ['redis:tcp-redis']);
  const client = new Redis(redis!.url);
  try {
    assert.ok((await client.dbsize()) >= 200_000);
    const puts = requests.filter((r) => r.method === 'PUT' && /^\/api\/users\/seed-\d+\/preferences$/.test(r.path));
    assert.ok(puts.length >= 10, `${puts.length} invalidations`);
    const reads = requests.filter((r) => r.method === 'GET');
    assert.ok(reads.length >= 50 && reads.every((r) => r.userId === 'reader-1'));
    assert.ok(records.length >= 50);
    assert.equal(restores.length, 1);
    await restores[0]!();
    assert.equal(await client.dbsize(), 0);
  } finally {
    client.disconnect();
  }
});
