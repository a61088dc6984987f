// Where a bench row's CPU goes: starts a private lab with the services as the images run them
// (dist/, telemetry loaded by --import), each under `node --cpu-prof`, drives one bench row's load,
// stops the services (the profiles are written at exit) and prints the top of each profile by self
// time over the measured load (not start-up or warm-up),
// per function and per package. The .cpuprofile files stay in the output directory for a flame
// graph (Chrome DevTools, speedscope).
//
//   node --conditions=source --import tsx scripts/bench/profile.ts <row> [--seconds 8] [--telemetry off]
//        [--out reports/profile] [--heap] [--repeat N] [--env NAME=value ...] [--node image|current]
//        [--rate N]
//
// The services run on the images' Node, as in `make bench` (measure/src/image-node.ts);
// `--node current` runs them on the Node running this script instead.
// <row> is B1 (recipe-api REST), B2 (GraphQL), B3 (gRPC unary) or B4:<via> (web-api → recipe-api).
// With --heap each service also writes a heap snapshot at the end of the load (SIGUSR2,
// --heapsnapshot-signal). With --repeat N the row's load runs N times against the same service
// processes and each repetition's peak RSS is printed: memory that is flat across repetitions is
// garbage collected, memory that climbs is kept. Each service's resident memory is also split from
// /proc/<pid>/smaps when idle and after the load (resident-memory.ts): what lies outside the heap.
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startPrivateLab } from '@recipe-mesh/lab/private-lab';
import { installedImageNode } from '@recipe-mesh/measure/image-node';
import { runLoad, type LoadOptions } from '@recipe-mesh/measure/load';
import type { LoadSummary } from '@recipe-mesh/measure/requests';
import { pollUntil, waitFor } from '@recipe-mesh/measure/net';
import { getRecipeQuery } from '@recipe-mesh/web-api/clients/graphql-client';
import { vias } from '@recipe-mesh/platform/request-rules';
import { grpcUnaryLoad } from './grpc-load.js';
import { formatResidentMemory, residentMemoryBreakdown } from './resident-memory.js';
import { summarizeProfile, type ProfileSummary, type ProfileWindow } from './cpu-profile.js';
import { summarizeHeapSnapshot } from './heap-snapshot.js';
import { watchProcesses } from './process-usage.js';
import { deploymentNodeOptions, imageCommand } from './node-options.js';
import { repoRoot } from '@recipe-mesh/measure/repo';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seconds: { type: 'string', default: '8' },
    telemetry: { type: 'string', default: 'on' },
    out: { type: 'string', default: 'reports/profile' },
    node: { type: 'string', default: 'image' },
    heap: { type: 'boolean', default: false },
    // Extra environment for both services, e.g. --env OTEL_TRACES_SAMPLER=always_off (repeatable):
    // one telemetry setting at a time, to see what it costs.
    env: { type: 'string', multiple: true, default: [] },
    top: { type: 'string', default: '25' },
    // Node flags for both services instead of their Deployments' NODE_OPTIONS (heap sizing
    // experiments), e.g. --node-flags="--max-semi-space-size=4"; --node-flags= for Node's defaults.
    'node-flags': { type: 'string' },
    'no-profile': { type: 'boolean', default: false },
    repeat: { type: 'string', default: '1' },
    // Requests per second instead of closed-loop callers (not B3): CPU per request depends on the
    // rate (per-tick and per-export work spreads over the requests of a tick), so settings compared
    // at one rate differ only by what they cost.
    rate: { type: 'string' },
  },
});
const row = positionals[0] ?? 'B1';
const outDir = path.resolve(repoRoot, values.out!, `${row.replace(/:/g, '-')}-${Date.now()}`);
mkdirSync(outDir, { recursive: true });

const nodeOptions = [
  ...(values['no-profile'] ? [] : ['--cpu-prof', `--cpu-prof-dir=${outDir}`]),
  ...(values.heap ? ['--heapsnapshot-signal=SIGUSR2'] : []),
];
const flagsOf = (service: 'web-api' | 'recipe-api') =>
  values['node-flags'] === undefined
    ? deploymentNodeOptions(repoRoot, service)
    : values['node-flags'].split(' ').filter(Boolean);
// --cpu-prof is refused in NODE_OPTIONS, so every flag goes on the command line.
const serviceNode = values.node === 'current' ? process.execPath : installedImageNode().path;
const asImage = (service: 'web-api' | 'recipe-api') =>
  imageCommand(repoRoot, service, [...nodeOptions, ...flagsOf(service)], serviceNode);
const lab = await startPrivateLab(() => {}, {
  apps: { webApi: asImage('web-api'), recipeApi: asImage('recipe-api') },
  use: { envoy: false, prometheus: false },
  appEnv: {
    ...Object.fromEntries(
      values.env!.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
    ),
    ...(values.telemetry === 'off' ? { OTEL_SDK_DISABLED: 'true' } : {}),
  },
});

const pids: Record<string, number> = {};
// The profiles are summarised over the measured load only (not start-up, warm-up or shutdown).
const loadWindows: ProfileWindow[] = [];
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);
// smaps names the binary by its resolved path.
const nodeBinary = realpathSync(serviceNode);
const services = ['recipe-api', 'web-api'];
try {
  for (const p of lab.state.processes)
    if (['web-api', 'recipe-api', 'trace-sink'].includes(p.name)) pids[p.name] = p.pid;
  const recipeUrl = lab.state.processes.find((p) => p.name === 'recipe-api')!.url!;
  const headers = { 'x-user-id': 'bench-user' };
  const connections = 20;
  for (const name of services)
    console.log(`${name} idle: ${formatResidentMemory(residentMemoryBreakdown(pids[name]!, nodeBinary))}`);
  const drive = driverFor(row, recipeUrl, lab.state.endpoints.publicUrl, lab.state.ports.recipeApiGrpc, headers);
  const warmup = await drive(1500, connections);
  let requestsSent = warmup.requests;
  const repeat = Number(values.repeat);
  const peaks: Record<string, number[]> = Object.fromEntries(Object.keys(pids).map((name) => [name, []]));
  for (let run = 1; run <= repeat; run++) {
    const watch = watchProcesses(pids);
    const fromUs = monotonicUs();
    const summary = await drive(Number(values.seconds) * 1000, connections);
    loadWindows.push({ fromUs, toUs: monotonicUs() });
    requestsSent += summary.requests;
    const usageByName = watch.stop();
    for (const [name, u] of Object.entries(usageByName)) peaks[name]!.push(u.peakRssMiB);
    const usage = Object.entries(usageByName)
      .map(
        ([name, u]) =>
          `${name} ${u.cpuSeconds.toFixed(1)} CPU s (${((u.cpuSeconds * 1000) / summary.requests).toFixed(3)} ms/request), peak RSS ${u.peakRssMiB} MiB`,
      )
      .join('; ');
    console.log(
      `${repeat > 1 ? `run ${run}/${repeat} ` : ''}${row} telemetry ${values.telemetry}${values.env!.map((pair) => ` ${pair}`).join('')} ${(values['node-flags'] ?? 'Deployment NODE_OPTIONS') || 'Node defaults'}: ${Math.round(summary.requestsPerSecond)} req/s, p50 ${summary.latencyMs.p50?.toFixed(1)} ms, p99 ${summary.latencyMs.p99?.toFixed(1)} ms, non-200 ${summary.requests - (summary.byStatus['200'] ?? 0)}; ${usage}`,
    );
  }
  if (repeat > 1)
    for (const [name, list] of Object.entries(peaks))
      console.log(`peak RSS per run, ${name}: ${list.join(', ')} MiB (max ${Math.max(...list)})`);
  // Every request should leave its spans in the sink (100% sampling): a full span queue drops them.
  // Read once the file stops growing (the exporters' last batches are in).
  const spansFile = path.join(lab.options.stateDir, 'traces', 'spans.ndjson');
  let lastSize = -1;
  await pollUntil(
    () => {
      const size = existsSync(spansFile) ? statSync(spansFile).size : 0;
      const settled = size === lastSize;
      lastSize = size;
      return settled;
    },
    { timeoutMs: 10_000, intervalMs: 500 },
  );
  const spans = existsSync(spansFile)
    ? readFileSync(spansFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { service: string; kind: string; name: string })
    : [];
  const perService = new Map<string, number>();
  for (const span of spans)
    perService.set(`${span.service} ${span.name}`, (perService.get(`${span.service} ${span.name}`) ?? 0) + 1);
  console.log(
    `spans: ${spans.length} for ${requestsSent} requests (${(spans.length / requestsSent).toFixed(2)} per request): ${[...perService].map(([k, n]) => `${k} ${n}`).join(', ')}`,
  );
  // Where the resident memory sits at the end of the load: V8 heap spaces against RSS.
  for (const [name, port] of [
    ['recipe-api', lab.state.ports.recipeApiAdmin],
    ['web-api', lab.state.ports.webApiAdmin],
  ] as const) {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { accept: 'text/plain' } })).text();
    const mib = (pattern: RegExp) => {
      const match = pattern.exec(text);
      return match ? Math.round(Number(match[1]) / 2 ** 20) : Number.NaN;
    };
    const spaces = [...text.matchAll(/^nodejs_heap_space_size_total_bytes\{[^}]*space="(\w+)"[^}]*\} (\S+)/gm)]
      .map(([, space, bytes]) => `${space} ${Math.round(Number(bytes) / 2 ** 20)}`)
      .join(', ');
    console.log(
      `${name}: rss ${mib(/^process_resident_memory_bytes\{[^}]*\} (\S+)/m)} MiB, heap total ${mib(/^nodejs_heap_size_total_bytes\{[^}]*\} (\S+)/m)} used ${mib(/^nodejs_heap_size_used_bytes\{[^}]*\} (\S+)/m)}, external ${mib(/^nodejs_external_memory_bytes\{[^}]*\} (\S+)/m)}; spaces MiB: ${spaces}`,
    );
    console.log(`${name} after the load: ${formatResidentMemory(residentMemoryBreakdown(pids[name]!, nodeBinary))}`);
  }
  if (values.heap) {
    const before = new Set(readdirSync(repoRoot));
    for (const name of services) process.kill(pids[name]!, 'SIGUSR2');
    // Node writes Heap.<date>.<pid>...heapsnapshot into the process' cwd (the repo repoRoot).
    // A snapshot is written in one blocking go; a file whose size held still between polls is done.
    const sizes = new Map<string, number>();
    const snapshots = await waitFor(
      () => {
        const added = readdirSync(repoRoot).filter((f) => f.endsWith('.heapsnapshot') && !before.has(f));
        const settled = added.filter((f) => {
          const size = statSync(path.join(repoRoot, f)).size;
          const same = size > 0 && sizes.get(f) === size;
          sizes.set(f, size);
          return same;
        });
        return settled.length >= services.length ? settled : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'heap snapshots' },
    );
    for (const file of snapshots) {
      const heap = summarizeHeapSnapshot(JSON.parse(readFileSync(path.join(repoRoot, file), 'utf8')));
      console.log(`\n${file}: ${heap.totalMiB.toFixed(1)} MiB reachable after a full GC`);
      for (const g of heap.byName.slice(0, 15))
        console.log(`${g.selfMiB.toFixed(1).padStart(7)} MiB ${String(g.count).padStart(8)}  ${g.name}`);
      renameSync(path.join(repoRoot, file), path.join(outDir, file));
    }
  }
  // --cpu-prof writes at exit; the lab's stop grants 5 s before SIGKILL, less than a service's drain
  // delay plus the writing of a busy profile, so each service is stopped here and given time.
  if (!values['no-profile']) await stopAndAwaitProfiles(services.map((name) => pids[name]!));
} finally {
  await lab.stop();
}

async function stopAndAwaitProfiles(servicePids: number[]): Promise<void> {
  for (const pid of servicePids) process.kill(pid, 'SIGTERM');
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const exited = await pollUntil(() => servicePids.every((pid) => !alive(pid)), { timeoutMs: 60_000, intervalMs: 250 });
  if (!exited.value) console.log(`still running 60 s after SIGTERM: ${servicePids.filter(alive).join(', ')}`);
}

for (const name of services) {
  const pid = pids[name]!;
  const file = readdirSync(outDir).find((f) => f.endsWith('.cpuprofile') && f.includes(`.${pid}.0.`));
  if (!file) {
    console.log(`${name}: no profile written (pid ${pid})`);
    continue;
  }
  const window = loadWindows.length
    ? { fromUs: loadWindows[0]!.fromUs, toUs: loadWindows[loadWindows.length - 1]!.toUs }
    : undefined;
  const summary = summarizeProfile(JSON.parse(readFileSync(path.join(outDir, file), 'utf8')), window);
  printSummary(name, path.join(outDir, file), summary, Number(values.top));
}

function printSummary(name: string, file: string, s: ProfileSummary, top: number): void {
  const pct = (ms: number) => `${((ms * 100) / s.busyMs).toFixed(1)}%`.padStart(6);
  console.log(
    `\n## ${name}: ${(s.busyMs / 1000).toFixed(1)} s busy of ${(s.totalMs / 1000).toFixed(1)} s sampled; shares of busy time (${path.relative(repoRoot, file)})`,
  );
  console.log('\nself time by package:');
  for (const p of s.byPackage.slice(0, 15)) console.log(`${pct(p.selfMs)}  ${p.name}`);
  // The tracer's own code, all packages together (the GC and syscalls it causes are not in it).
  const otel = s.byPackage.filter((p) => p.name.startsWith('@opentelemetry/'));
  console.log(
    `${pct(otel.reduce((sum, p) => sum + p.selfMs, 0))}  @opentelemetry/* together (${otel.length} packages)`,
  );
  console.log('\nself time by function:');
  for (const f of s.byFunction.slice(0, top)) console.log(`${pct(f.selfMs)}  ${f.name}`);
}

/** A function that drives `row`'s load for `durationMs` with `connections` closed-loop callers. */
function driverFor(
  row: string,
  recipeUrl: string,
  publicUrl: string,
  recipeGrpcPort: number,
  headers: Record<string, string>,
): (durationMs: number, connections: number) => Promise<LoadSummary> {
  if (row === 'B3')
    return (durationMs, concurrency) =>
      grpcUnaryLoad({
        target: `127.0.0.1:${recipeGrpcPort}`,
        recipeId: 42,
        userId: headers['x-user-id']!,
        concurrency,
        durationMs,
      });
  const load: Omit<LoadOptions, 'mode' | 'durationMs'> =
    row === 'B1'
      ? { baseUrl: recipeUrl, path: '/recipes/42', headers }
      : row === 'B2'
        ? {
            baseUrl: recipeUrl,
            path: '/graphql',
            method: 'POST',
            body: JSON.stringify({ query: getRecipeQuery, variables: { id: 42 }, operationName: 'GetRecipe' }),
            headers: { ...headers, 'content-type': 'application/json' },
          }
        : (() => {
            const via = row.split(':')[1] as (typeof vias)[number];
            if (!row.startsWith('B4:') || !vias.includes(via))
              throw new Error(`unknown row ${row}: B1, B2, B3, B4:<via>`);
            return { baseUrl: publicUrl, path: '/api/recipes/42', via, headers };
          })();
  const rate = values.rate === undefined ? undefined : Number(values.rate);
  return async (durationMs, connections) =>
    (
      await runLoad({
        ...load,
        mode:
          rate === undefined
            ? { kind: 'concurrency', connections }
            : { kind: 'rate', requestsPerSecond: rate, connections },
        durationMs,
      })
    ).summary;
}
