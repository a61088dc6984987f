// `make bench`: the platform's own overhead as numbers on this machine, all in one run so ratios
// hold on a noisy machine. The lab mesh first (its open-loop rates set B4's comparison rows), then
// floors (node:http, express, graphql-yoga serving recipe-api's answer), recipe-api per protocol,
// web-api → recipe-api per `via`, B4 repeated against the same processes, and telemetry off; the
// rows and ratios are listed in scripts/bench/report.ts. Services run as the images run them:
// compiled dist/ with `node --import @recipe-mesh/platform/telemetry` (Dockerfile) and the
// NODE_OPTIONS of their Deployments (k8s/base), so run
// `make build` first (the make target does). Writes reports/bench-<time>.json, prints Markdown and
// replaces the latest-run section of docs/benchmarks.md. Fails when any request did not get a 200.
// BENCH_DURATION_MS (default 8000) shortens every row; BENCH_CONNECTIONS (default 20).
// BENCH_ROWS=E0,B1,B5:B1 runs only those rows (a key or a key prefix, e.g. B4 for every B4 row) and
// prints them without a report: for measuring one change before and after in the same conditions.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPrivateLab, type PrivateLab } from '@recipe-mesh/lab/private-lab';
import { runLoad, type LoadOptions, type Via } from '@recipe-mesh/measure/load';
import { type LoadSummary, type RequestRecord, summarizeRequests } from '@recipe-mesh/measure/requests';
import { pacedLoad } from '@recipe-mesh/experiments/load/paced';
import { getRecipeQuery } from '@recipe-mesh/web-api/clients/graphql-client';
import { grpcUnaryLoad } from './bench/grpc-load.js';
import { ghzUnaryLoad } from './bench/ghz-load.js';
import { findBinary, installHint } from '@recipe-mesh/measure/binaries';
import { peerTelemetry } from './bench/peers.js';
import { imageCommand } from './bench/node-options.js';
import { installedImageNode } from '@recipe-mesh/measure/image-node';
import { waitFor } from '@recipe-mesh/measure/net';
import { watchProcesses } from './bench/process-usage.js';
import {
  buildReport,
  renderMarkdown,
  renderRow,
  repeatRuns,
  rowKeys,
  type Row,
  type Scenario,
} from './bench/report.js';
import { repoRoot } from '@recipe-mesh/measure/repo';
import { vias } from '@recipe-mesh/platform/request-rules';

const durationMs = Number(process.env.BENCH_DURATION_MS ?? 8000);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 20);
const warmupMs = Math.min(1500, durationMs);
const userId = 'bench-user';
const recipePath = '/recipes/42';
const onlyRows = process.env.BENCH_ROWS?.split(',')
  .map((k) => k.trim())
  .filter(Boolean);
/** Whether a row runs: every row without BENCH_ROWS, else the keys named or prefixed there. */
const wanted = (key: string) => !onlyRows || onlyRows.some((k) => key === k || key.startsWith(`${k}:`));
const anyWanted = (prefixes: string[]) => rowKeys.some((key) => prefixes.some((p) => key.startsWith(p)) && wanted(key));
const graphqlBody = JSON.stringify({ query: getRecipeQuery, variables: { id: 42 }, operationName: 'GetRecipe' });

for (const service of ['web-api', 'recipe-api']) {
  if (!existsSync(path.join(repoRoot, `services/${service}/dist/main.js`))) {
    throw new Error(`services/${service}/dist/main.js is missing: run \`make build\` first`);
  }
}

// The services and the floors run on the Node the images run (measure/src/image-node.ts); the load
// generator stays on this one.
const serviceNode = installedImageNode();

/** As the Dockerfile's ENTRYPOINT starts each service, with its pod's NODE_OPTIONS (heap caps). */
const asImage = (service: 'web-api' | 'recipe-api') => imageCommand(repoRoot, service);

const rows: Row[] = [];

/**
 * Usage of the row's processes and of this one, which generates the load (autocannon, the paced
 * client, the grpc-js client) on the same cores: a heavier client leaves the server less CPU.
 */
const watchRow = (pids: Record<string, number>) => watchProcesses({ ...pids, 'load-generator': process.pid });

function record(
  base: Pick<Row, 'key' | 'scenario' | 'via' | 'telemetry' | 'loop' | 'connections' | 'targetRps' | 'loadTool'>,
  summary: Pick<Row, 'requestsPerSecond' | 'p50' | 'p99' | 'non200'>,
  processes: Row['processes'],
): Row {
  const row: Row = { ...base, ...summary, processes };
  rows.push(row);
  console.error(
    `${row.key}: ${row.requestsPerSecond} req/s, p50 ${row.p50.toFixed(1)} ms, p99 ${row.p99.toFixed(1)} ms`,
  );
  return row;
}

const fromLoad = (s: LoadSummary) => ({
  requestsPerSecond: Math.round(s.requestsPerSecond),
  p50: s.latencyMs.p50 ?? Number.NaN,
  p99: s.latencyMs.p99 ?? Number.NaN,
  non200: s.requests - (s.byStatus['200'] ?? 0),
});

/** Closed loop: each of `connections` sends its next request when the answer to the last arrives. */
const closedLoop = { kind: 'concurrency', connections } as const;

/** One closed-loop HTTP row (autocannon) after a warm-up, with per-process usage. */
async function httpRow(
  base: { key: string; scenario: Scenario; via: Via | null; telemetry: boolean },
  load: Omit<LoadOptions, 'mode' | 'durationMs'>,
  pids: Record<string, number>,
): Promise<Row> {
  await runLoad({ ...load, mode: closedLoop, durationMs: warmupMs });
  const watch = watchRow(pids);
  const { summary } = await runLoad({ ...load, mode: closedLoop, durationMs });
  return record({ ...base, loop: 'closed', connections, targetRps: null }, fromLoad(summary), watch.stop());
}

/** Half the closed-loop maximum of `closed`: a rate the path sustains without queueing. */
const halfOf = (closed: Row) => Math.max(1, Math.round(closed.requestsPerSecond / 2));

/** Constant rate, evenly spaced (no bunching), as `key`: p99 without coordinated omission. */
async function openRow(
  base: Pick<Row, 'scenario' | 'via' | 'telemetry'>,
  key: string,
  targetRps: number,
  url: string,
  pids: Record<string, number>,
): Promise<Row> {
  const paced = (ms: number) =>
    pacedLoad({
      request: () => ({ url, headers: { 'x-user-id': userId } }),
      ratePerSecond: targetRps,
      lanes: connections,
      durationMs: ms,
    });
  // Warmed up at its own rate, as closed rows are at theirs: the row before may have saturated the path.
  await paced(warmupMs);
  const watch = watchRow(pids);
  const started = performance.now();
  const records = await paced(durationMs);
  return record(
    { ...base, key, loop: 'open', connections, targetRps },
    fromLoad(summarizeRequests(records, performance.now() - started)),
    watch.stop(),
  );
}

/**
 * B4 again and again against the same processes, each via for a third of a row in turn, so the
 * peak RSS of each repetition shows whether memory settles or keeps growing.
 */
async function repeatRows(publicUrl: string, pids: Record<string, number>): Promise<void> {
  for (let run = 1; run <= repeatRuns; run++) {
    const key = `B4:repeat:${run}`;
    if (!wanted(key)) continue;
    const watch = watchRow(pids);
    const started = performance.now();
    const records: RequestRecord[] = [];
    for (const via of vias) {
      const load = { ...webApiLoad(publicUrl, via), mode: closedLoop, durationMs: durationMs / vias.length };
      records.push(...(await runLoad(load)).records);
    }
    record(
      { key, scenario: 'B4', via: null, telemetry: true, loop: 'closed', connections, targetRps: null },
      fromLoad(summarizeRequests(records, performance.now() - started)),
      watch.stop(),
    );
  }
}

function pidsOf(lab: PrivateLab, names: string[]): Record<string, number> {
  return Object.fromEntries(
    lab.state.processes.filter((p) => names.includes(p.name)).map((p) => [p.name, p.pid] as const),
  );
}

function labWith(options: { mesh: boolean; telemetry: boolean }): Promise<PrivateLab> {
  return startPrivateLab(() => {}, {
    apps: { webApi: asImage('web-api'), recipeApi: asImage('recipe-api') },
    ...(options.mesh ? {} : { use: { envoy: false, prometheus: false } }),
    ...(options.telemetry ? {} : { appEnv: { OTEL_SDK_DISABLED: 'true' } }),
  });
}

async function withLab<T>(lab: PrivateLab, run: (lab: PrivateLab) => Promise<T>): Promise<T> {
  try {
    return await run(lab);
  } finally {
    await lab.stop();
  }
}

const recipeApiUrl = (lab: PrivateLab) => lab.state.processes.find((p) => p.name === 'recipe-api')!.url!;
const webApiLoad = (baseUrl: string, via: Via) => ({
  baseUrl,
  path: `/api${recipePath}`,
  via,
  headers: { 'x-user-id': userId },
});
const apps = ['web-api', 'recipe-api', 'redis', 'trace-sink'];
const apiUrl = (lab: PrivateLab, via: Via) => `${lab.state.endpoints.publicUrl}/api${recipePath}?via=${via}`;

/**
 * Starts a floor server as a child process on the images' Node, its stdout and stderr (P1's access
 * log among them) in `logFile`; resolves with its port and a stop function.
 */
async function startFloor(floor: {
  kind: string;
  answerFile: string;
  logFile: string;
  nodeFlags?: string[];
  env?: Record<string, string>;
}): Promise<{ pid: number; port: number; stop(): Promise<void> }> {
  const log = openSync(floor.logFile, 'w');
  const script = path.join(repoRoot, 'scripts/bench/floor-server.ts');
  const child = spawn(
    serviceNode.path,
    ['--conditions=source', '--import', 'tsx', ...(floor.nodeFlags ?? []), script, floor.kind, floor.answerFile],
    { cwd: repoRoot, stdio: ['ignore', log, log], env: { ...process.env, ...floor.env } },
  );
  closeSync(log);
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      resolve();
    }),
  );
  // P0 loads the package's ~40 instrumentations under tsx: over a minute on a loaded 2-core machine.
  const port = await waitFor(
    () => {
      if (exitCode !== undefined) throw new Error(`floor ${floor.kind} exited (${exitCode}): see ${floor.logFile}`);
      const match = /listening (\d+)/.exec(readFileSync(floor.logFile, 'utf8'));
      return match ? Number(match[1]) : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 100, what: `floor ${floor.kind} listening (${floor.logFile})` },
  ).catch(async (error: unknown) => {
    // Not left running once the bench gives up on it.
    if (exitCode === undefined) {
      child.kill('SIGKILL');
      await exited;
    }
    throw error;
  });
  return {
    pid: child.pid!,
    port,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

// 1. Through the lab's ingress and sidecars (B6), as `make up` runs it (Prometheus scraping). First,
// so that B4 can run an open row at B6's rate: the mesh's added latency is B6 minus B4 at one rate.
const b6OpenRate: Partial<Record<Via, number>> = {};
if (anyWanted(['B6']))
  await withLab(await labWith({ mesh: true, telemetry: true }), async (lab) => {
    if (lab.state.mode !== 'mesh')
      throw new Error(`the lab started without Envoy (${lab.state.missing.join('; ')}): run \`make lab-deps\``);
    const meshPids = pidsOf(lab, [...apps, 'ingress', 'web-api-sidecar', 'recipe-api-sidecar', 'prometheus']);
    for (const via of vias) {
      if (!wanted(`B6:${via}`)) continue;
      const closed = await httpRow(
        { key: `B6:${via}`, scenario: 'B6', via, telemetry: true },
        webApiLoad(lab.state.endpoints.publicUrl, via),
        meshPids,
      );
      if (!wanted(`B6:${via}:open`)) continue;
      const open = await openRow(closed, `B6:${via}:open`, halfOf(closed), apiUrl(lab, via), meshPids);
      b6OpenRate[via] = open.targetRps!;
    }
  });

// 2. Services alone, telemetry on: capture the answer for the floors, then B0/E0/P0/P1/Y0, B1–B4.
if (anyWanted(['B0', 'E0', 'P0', 'P1', 'Y0', 'B1', 'B2', 'B3', 'B4']))
  await withLab(await labWith({ mesh: false, telemetry: true }), async (lab) => {
    const recipeUrl = recipeApiUrl(lab);
    const headers = { 'x-user-id': userId };
    const rest = await (await fetch(`${recipeUrl}${recipePath}`, { headers })).json();
    const graphql = (await (
      await fetch(`${recipeUrl}/graphql`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: graphqlBody,
      })
    ).json()) as { data: unknown };
    const answerFile = path.join(lab.options.stateDir, 'bench-answer.json');
    writeFileSync(answerFile, JSON.stringify({ rest, graphqlData: graphql.data }));

    const peer = peerTelemetry(lab.state.endpoints.traceSinkUrl);
    const floors = [
      { key: 'B0', kind: 'node-http', path: recipePath, graphql: false, telemetry: false },
      { key: 'E0', kind: 'express', path: recipePath, graphql: false, telemetry: false },
      { key: 'P0', kind: 'express', path: recipePath, graphql: false, telemetry: true },
      { key: 'P1', kind: 'express-observed', path: recipePath, graphql: false, telemetry: true },
      { key: 'Y0', kind: 'yoga', path: '/graphql', graphql: true, telemetry: false },
    ] as const;
    for (const floor of floors) {
      if (!wanted(floor.key)) continue;
      const server = await startFloor({
        kind: floor.kind,
        answerFile,
        logFile: path.join(lab.options.stateDir, `floor-${floor.key}.log`),
        ...(floor.telemetry ? peer(floor.key) : {}),
      });
      // The peers export to the lab's trace sink, as the services do: its CPU is part of their row.
      const pids = { [floor.kind]: server.pid, ...(floor.telemetry ? pidsOf(lab, ['trace-sink']) : {}) };
      try {
        await httpRow(
          { key: floor.key, scenario: floor.key, via: null, telemetry: floor.telemetry },
          {
            baseUrl: `http://127.0.0.1:${server.port}`,
            path: floor.path,
            ...(floor.graphql
              ? { method: 'POST', body: graphqlBody, headers: { ...headers, 'content-type': 'application/json' } }
              : { headers }),
          },
          pids,
        );
      } finally {
        await server.stop();
      }
    }

    const recipePids = pidsOf(lab, ['recipe-api', 'redis', 'trace-sink']);
    if (wanted('B1'))
      await httpRow(
        { key: 'B1', scenario: 'B1', via: null, telemetry: true },
        { baseUrl: recipeUrl, path: recipePath, headers },
        recipePids,
      );
    if (wanted('B2'))
      await httpRow(
        { key: 'B2', scenario: 'B2', via: null, telemetry: true },
        {
          baseUrl: recipeUrl,
          path: '/graphql',
          method: 'POST',
          body: graphqlBody,
          headers: { ...headers, 'content-type': 'application/json' },
        },
        recipePids,
      );
    if (wanted('B3')) {
      const grpcLoad = {
        target: `127.0.0.1:${lab.state.ports.recipeApiGrpc}`,
        recipeId: 42,
        userId,
        concurrency: connections,
      };
      const base = { key: 'B3', scenario: 'B3', via: null, telemetry: true, loop: 'closed', connections } as const;
      const ghz = findBinary('ghz');
      if (ghz) {
        // ghz (Go) where installed: the grpc-js client spent 2.9 CPU s of an 8 s row, autocannon 0.9 in B1.
        await ghzUnaryLoad({ ...grpcLoad, ghz, root: repoRoot, durationMs: warmupMs });
        const watch = watchRow(recipePids);
        const { summary, usage } = await ghzUnaryLoad({ ...grpcLoad, ghz, root: repoRoot, durationMs });
        record({ ...base, targetRps: null, loadTool: 'ghz' }, fromLoad(summary), { ...watch.stop(), ghz: usage });
      } else {
        console.error(`B3 runs the grpc-js client: ${installHint('ghz')} for ghz`);
        await grpcUnaryLoad({ ...grpcLoad, durationMs: warmupMs });
        const watch = watchRow(recipePids);
        const summary = await grpcUnaryLoad({ ...grpcLoad, durationMs });
        record({ ...base, targetRps: null, loadTool: 'grpc-js' }, fromLoad(summary), watch.stop());
      }
    }

    const pids = pidsOf(lab, apps);
    for (const via of vias) {
      const base = { scenario: 'B4', via, telemetry: true } as const;
      if (wanted(`B4:${via}`)) {
        const closed = await httpRow(
          { ...base, key: `B4:${via}` },
          webApiLoad(lab.state.endpoints.publicUrl, via),
          pids,
        );
        if (wanted(`B4:${via}:open`)) await openRow(base, `B4:${via}:open`, halfOf(closed), apiUrl(lab, via), pids);
      }
      if (!wanted(`B4:${via}:open:b6-rate`)) continue;
      const meshRate = b6OpenRate[via];
      // Only a partial run can lack it (the mesh runs first): the row needs B6's rate to mean anything.
      if (meshRate === undefined) console.error(`B4:${via}:open:b6-rate skipped: it runs at B6:${via}:open's rate`);
      else await openRow(base, `B4:${via}:open:b6-rate`, meshRate, apiUrl(lab, via), pids);
    }
    await repeatRows(lab.state.endpoints.publicUrl, pids);
  });

// 3. The same with telemetry off (B5).
if (anyWanted(['B5']))
  await withLab(await labWith({ mesh: false, telemetry: false }), async (lab) => {
    if (wanted('B5:B1:off'))
      await httpRow(
        { key: 'B5:B1:off', scenario: 'B5', via: null, telemetry: false },
        { baseUrl: recipeApiUrl(lab), path: recipePath, headers: { 'x-user-id': userId } },
        pidsOf(lab, ['recipe-api', 'redis']),
      );
    for (const via of vias) {
      if (!wanted(`B5:B4:${via}:off`)) continue;
      await httpRow(
        { key: `B5:B4:${via}:off`, scenario: 'B5', via, telemetry: false },
        webApiLoad(lab.state.endpoints.publicUrl, via),
        pidsOf(lab, ['web-api', 'recipe-api', 'redis']),
      );
    }
  });

if (onlyRows) {
  // A partial run: the rows as the report prints them, no report file, docs untouched.
  console.log(rows.map((r) => renderRow(r)).join('\n'));
  process.exit(rows.some((r) => r.non200 > 0) ? 1 : 0);
}

const report = buildReport({
  machine: {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    serviceNode: `v${serviceNode.version}`,
    date: new Date().toISOString(),
  },
  durationMs,
  connections,
  rows,
});
const markdown = renderMarkdown(report);
console.log(markdown);
mkdirSync(path.join(repoRoot, 'reports'), { recursive: true });
const file = path.join(repoRoot, 'reports', `bench-${report.machine.date.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
console.log(`\nwritten to ${path.relative(repoRoot, file)}`);

// docs/benchmarks.md keeps the latest run between these markers; the rest of the page is prose.
const docsFile = path.join(repoRoot, 'docs/benchmarks.md');
const [startMarker, endMarker] = ['<!-- bench:latest-run:start -->', '<!-- bench:latest-run:end -->'];
const docs = readFileSync(docsFile, 'utf8');
const start = docs.indexOf(startMarker);
const end = docs.indexOf(endMarker);
if (start >= 0 && end > start) {
  writeFileSync(docsFile, `${docs.slice(0, start + startMarker.length)}\n${markdown}\n${docs.slice(end)}`);
  console.log(`latest run written to docs/benchmarks.md`);
}

const failed = rows.filter((r) => r.non200 > 0);
if (failed.length) {
  console.error(`requests failed in: ${failed.map((r) => `${r.key} (${r.non200})`).join(', ')}`);
  process.exit(1);
}
