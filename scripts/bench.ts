// `make bench`: throughput, latency and memory of GET /api/recipes/42 for each protocol web-api
// speaks to recipe-api, once with the services alone and once through the lab's Envoy mesh, so
// the cost of each protocol and of the sidecars is a number, not a guess. Writes
// reports/bench-<time>.json and prints a Markdown table (docs/benchmarks.md keeps measured runs).
// Fails when any request did not get a 200: a benchmark of errors measures nothing.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPrivateLab } from '@recipe-mesh/lab/private-lab';
import { runLoad, type Via } from '@recipe-mesh/lab/load/load';
import { parseScrape, sumOf } from '@recipe-mesh/measure/metric-text';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const durationMs = Number(process.env.BENCH_DURATION_MS ?? 8000);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 20);
const vias: Via[] = ['http', 'graphql', 'grpc'];

interface Row {
  mode: 'direct' | 'mesh';
  via: Via;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  non200: number;
  webApiRssMiB: number;
  recipeApiRssMiB: number;
}

async function rssMiB(adminUrl: string): Promise<number> {
  const scrape = parseScrape(await (await fetch(`${adminUrl}/metrics`)).text());
  return Math.round((sumOf(scrape, 'process_resident_memory_bytes') ?? NaN) / 2 ** 20);
}

async function measure(mode: Row['mode']): Promise<Row[]> {
  const lab = await startPrivateLab(
    root,
    () => {},
    mode === 'direct' ? { use: { envoy: false, prometheus: false } } : {},
  );
  try {
    const { endpoints } = lab.state;
    const rows: Row[] = [];
    for (const via of vias) {
      const load = {
        baseUrl: endpoints.publicUrl,
        path: '/api/recipes/42',
        via,
        headers: { 'x-user-id': 'bench-user' },
      };
      // Warm-up: JIT, connection pools, the user's cached view.
      await runLoad({ ...load, mode: { kind: 'concurrency', connections }, durationMs: 1500 });
      const { summary } = await runLoad({ ...load, mode: { kind: 'concurrency', connections }, durationMs });
      rows.push({
        mode,
        via,
        requestsPerSecond: Math.round(summary.requestsPerSecond),
        p50: summary.latencyMs.p50 ?? NaN,
        p99: summary.latencyMs.p99 ?? NaN,
        non200: summary.requests - (summary.byStatus['200'] ?? 0),
        webApiRssMiB: await rssMiB(endpoints.webApiAdminUrl),
        recipeApiRssMiB: await rssMiB(endpoints.recipeApiAdminUrl),
      });
      console.error(`${mode} ${via}: ${rows.at(-1)!.requestsPerSecond} req/s`);
    }
    return rows;
  } finally {
    await lab.stop();
  }
}

const rows = [...(await measure('direct')), ...(await measure('mesh'))];
const table = [
  `GET /api/recipes/42 with x-user-id, ${connections} connections, ${durationMs / 1000} s per row (autocannon), Node ${process.version}`,
  '',
  '| path | via | req/s | p50 ms | p99 ms | non-200 | web-api RSS MiB | recipe-api RSS MiB |',
  '|---|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.mode} | ${r.via} | ${r.requestsPerSecond} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.non200} | ${r.webApiRssMiB} | ${r.recipeApiRssMiB} |`,
  ),
].join('\n');
console.log(table);
mkdirSync(path.join(root, 'reports'), { recursive: true });
const file = path.join(root, 'reports', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ durationMs, connections, node: process.version, rows }, null, 2));
console.log(`\nwritten to ${path.relative(root, file)}`);
const failed = rows.filter((r) => r.non200 > 0);
if (failed.length) {
  console.error(`requests failed in: ${failed.map((r) => `${r.mode}/${r.via}`).join(', ')}`);
  process.exit(1);
}
