// `make soak` (docs/reliability.md): SOAK_DURATION (default 10m) through the mesh at half the
// measured maximum rate with the real mix, sampling each service's memory, fds and handles; fails
// when one grows faster than its bound or when any answer is not what its request expects.
import { runLoad } from '@recipe-mesh/lab/load/load';
import { startPrivateLab } from '../../experiments/test/lab-fixture.js';
import { recipeApiConfigSchema } from '../../services/recipe-api/src/config.js';
import { photoField } from '../../services/recipe-api/src/entry-points/rest/photo-upload.js';
import { metric } from '../drills/drill-support.js';
import { parseDuration, slopePerMinute } from './slope.js';

const durationMs = parseDuration(process.env.SOAK_DURATION ?? '10m');
const sampleEveryMs = Math.max(5_000, Math.min(30_000, durationMs / 20));
/** Growth per minute beyond which the soak fails, after the first fifth (warm-up: JIT, caches, pools). */
const bounds = {
  process_resident_memory_bytes: 4 * 1024 * 1024,
  nodejs_heap_size_used_bytes: 2 * 1024 * 1024,
  process_open_fds: 1,
  nodejs_active_handles_total: 1,
} as const;
type Resource = keyof typeof bounds;
const { UPLOAD_MAX_BYTES } = recipeApiConfigSchema.parse({});

const lab = await startPrivateLab((line) => console.error(line));
const publicUrl = lab.state.endpoints.publicUrl;
// Uploads exist only at recipe-api: sent through its sidecar, the mesh path web-api also takes.
const recipeApiViaSidecar = `http://127.0.0.1:${lab.state.ports.recipeApiSidecarInboundHttp}`;
const services = { 'web-api': lab.state.endpoints.webApiAdminUrl, 'recipe-api': lab.state.endpoints.recipeApiAdminUrl };

interface Kind {
  name: string;
  weight: number;
  expect: number[];
  send(i: number): Promise<number>;
}
const json = { 'content-type': 'application/json' };
const upload = async (bytes: number) => {
  const form = new FormData();
  form.append(photoField, new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }), 'photo.jpg');
  return (await fetch(`${recipeApiViaSidecar}/recipes/42/photo`, { method: 'POST', body: form })).status;
};
const drain = async (response: Response) => {
  await response.arrayBuffer();
  return response.status;
};
const mix: Kind[] = [
  ...(['http', 'graphql', 'grpc'] as const).map((via) => ({
    name: `get via ${via}`,
    weight: 20,
    expect: [200],
    send: async (i: number) =>
      drain(
        await fetch(`${publicUrl}/api/recipes/${1 + (i % 500)}?via=${via}`, {
          headers: { 'x-user-id': `soak-${i % 50}` },
        }),
      ),
  })),
  {
    name: 'menu',
    weight: 15,
    expect: [200],
    send: async (i) =>
      drain(await fetch(`${publicUrl}/api/menu?ids=${(i % 90) + 1},${(i % 90) + 2},${(i % 90) + 3}&via=grpc`)),
  },
  {
    name: 'preferences',
    weight: 10,
    expect: [200],
    send: async (i) =>
      drain(
        await fetch(`${publicUrl}/api/users/soak-${i % 50}/preferences`, {
          method: 'PUT',
          headers: json,
          body: JSON.stringify({ preferredServings: 1 + (i % 8), favourites: [(i % 100) + 1] }),
        }),
      ),
  },
  {
    name: 'export aborted halfway',
    weight: 3,
    expect: [200],
    send: async () => {
      const abort = new AbortController();
      const response = await fetch(`${publicUrl}/api/recipes/export`, { signal: abort.signal });
      const reader = response.body!.getReader();
      let read = 0;
      // About half of a 10,000-recipe catalogue (~5 MB of NDJSON), then the client goes away.
      while (read < 2_500_000) {
        const chunk = await reader.read();
        if (chunk.done) break;
        read += chunk.value.byteLength;
      }
      abort.abort();
      return response.status;
    },
  },
  { name: 'upload under the limit', weight: 2, expect: [201], send: () => upload(64 * 1024) },
  { name: 'upload over the limit', weight: 1, expect: [413], send: () => upload(UPLOAD_MAX_BYTES + 64 * 1024) },
];
const totalWeight = mix.reduce((a, k) => a + k.weight, 0);
const pick = (i: number) => {
  let r = (i * 7919) % totalWeight;
  for (const kind of mix) if ((r -= kind.weight) < 0) return kind;
  return mix[0]!;
};

try {
  const max = await runLoad({
    baseUrl: publicUrl,
    path: '/api/recipes/42',
    mode: { kind: 'concurrency', connections: 20 },
    durationMs: 5_000,
  });
  const rate = Math.max(2, Math.floor(max.summary.requestsPerSecond / 2));
  console.log(
    `max ${max.summary.requestsPerSecond.toFixed(0)} req/s through the mesh; soaking at ${rate} req/s for ${durationMs / 1000} s`,
  );

  const samples: Record<string, Record<Resource, { atMs: number; value: number }[]>> = {};
  const sample = async (atMs: number) => {
    for (const [service, admin] of Object.entries(services)) {
      samples[service] ??= {
        process_resident_memory_bytes: [],
        nodejs_heap_size_used_bytes: [],
        process_open_fds: [],
        nodejs_active_handles_total: [],
      };
      for (const resource of Object.keys(bounds) as Resource[]) {
        samples[service][resource].push({ atMs, value: await metric(admin, resource) });
      }
    }
  };

  const outcomes = new Map<string, Record<string, number>>();
  const unexpected: string[] = [];
  const inFlight = new Set<Promise<void>>();
  const started = Date.now();
  let nextSample = started;
  for (let i = 0; Date.now() - started < durationMs; i++) {
    const due = started + (i * 1000) / rate;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    if (Date.now() >= nextSample) {
      nextSample += sampleEveryMs;
      void sample(Date.now() - started);
    }
    const kind = pick(i);
    const p: Promise<void> = kind
      .send(i)
      .catch(() => 0)
      .then((status) => {
        const counts = outcomes.get(kind.name) ?? {};
        counts[status] = (counts[status] ?? 0) + 1;
        outcomes.set(kind.name, counts);
        if (!kind.expect.includes(status) && unexpected.length < 20) unexpected.push(`${kind.name}: ${status}`);
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  await sample(Date.now() - started);

  console.log('\nrequests by kind and status:');
  for (const [name, counts] of outcomes) console.log(`  ${name}: ${JSON.stringify(counts)}`);
  console.log(`\nslope per minute after warm-up (samples every ${sampleEveryMs / 1000} s), bound in ():`);
  const failures: string[] = [...unexpected.map((u) => `unexpected status ${u}`)];
  for (const [service, resources] of Object.entries(samples)) {
    for (const resource of Object.keys(bounds) as Resource[]) {
      const points = resources[resource].filter((p) => p.atMs >= durationMs / 5);
      const slope = slopePerMinute(points);
      const bytes = resource.endsWith('bytes');
      const show = (v: number) => (bytes ? `${(v / 1024 / 1024).toFixed(2)} MiB` : v.toFixed(2));
      const ok = slope <= bounds[resource];
      console.log(`  ${service} ${resource}: ${show(slope)}/min (${show(bounds[resource])}) ${ok ? 'ok' : 'TOO FAST'}`);
      if (!ok) failures.push(`${service} ${resource} grows ${show(slope)}/min`);
    }
  }
  if (failures.length) {
    console.log(`\nFAIL:\n  ${failures.join('\n  ')}`);
    process.exitCode = 1;
  } else console.log('\nPASS');
} finally {
  await lab.stop();
}
