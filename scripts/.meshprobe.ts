import path from 'node:path';
import { startPrivateLab } from '@recipe-mesh/lab/private-lab';
import { runLoad } from '@recipe-mesh/lab/load/load';
import { pacedLoad } from '@recipe-mesh/experiments/load/paced';
import { summarizeLatency } from '@recipe-mesh/measure/latency';
import { imageNode } from '@recipe-mesh/measure/image-node';
import { imageCommand } from './bench/node-options.js';
const root = path.resolve('.');
const node = imageNode().path;
const app = (s: 'web-api' | 'recipe-api') => ({ ...imageCommand(root, s), command: node });
const lab = await startPrivateLab(root, () => {}, { apps: { webApi: app('web-api'), recipeApi: app('recipe-api') } });
try {
  const base = lab.state.endpoints.publicUrl;
  const url = `${base}/api/recipes/42?via=http`;
  const paced = async (label: string) => {
    const t = performance.now();
    const recs = await pacedLoad({ request: () => ({ url, headers: { 'x-user-id': 'bench-user' } }), ratePerSecond: 500, lanes: 20, durationMs: 4000 });
    const l = summarizeLatency(recs.map((r) => r.latencyMs));
    const firstHalf = summarizeLatency(recs.slice(0, recs.length / 2).map((r) => r.latencyMs));
    const secondHalf = summarizeLatency(recs.slice(recs.length / 2).map((r) => r.latencyMs));
    console.log(`${label}: p50 ${l.p50!.toFixed(2)} (first half ${firstHalf.p50!.toFixed(2)}, second ${secondHalf.p50!.toFixed(2)}) p99 ${l.p99!.toFixed(2)} n=${recs.length} ${(performance.now()-t).toFixed(0)}ms`);
  };
  await paced('paced 1 (cold)');
  await paced('paced 2');
  await runLoad({ baseUrl: base, path: '/api/recipes/42', via: 'http', headers: { 'x-user-id': 'bench-user' }, mode: { kind: 'concurrency', connections: 20 }, durationMs: 8000 });
  await paced('paced after closed');
  await paced('paced after closed, again');
  await paced('paced after closed, third');
} finally { await lab.stop(); }
