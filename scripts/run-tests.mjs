#!/usr/bin/env node
// Runs every *.test.ts (or the paths given) with node's test runner through tsx, one file at a
// time: integration tests start real servers and measure latency, which 2 cores cannot share.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tsImport } from 'tsx/esm/api';

const roots = process.argv.slice(2).length
  ? process.argv.slice(2)
  : ['services', 'measure', 'lab', 'experiments', 'k8s', 'istio', 'grafana', 'scripts'];
const files = [];
const walk = (p) => {
  let st;
  try {
    st = statSync(p);
  } catch {
    return;
  }
  if (st.isFile()) {
    if (p.endsWith('.test.ts')) files.push(p);
    return;
  }
  for (const entry of readdirSync(p)) {
    // fixtures/ hold test files other tests run on purpose (k8s/test/fixtures/hold-processes.test.ts).
    if (entry === 'node_modules' || entry === 'dist' || entry === 'fixtures' || entry.startsWith('.')) continue;
    walk(path.join(p, entry));
  }
};
roots.forEach(walk);
files.sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// Every test file's process loads the guard (scripts/test-process-guard.ts): what it starts dies
// with it, and it ends when its parent is gone. The runner itself (which Node starts without the
// --import preloads) is tied to this script with the same parent-death signal (measure/src/tie.ts),
// and this script passes SIGINT, SIGTERM and SIGHUP on: `make test` stopped by Ctrl-C, `timeout` or
// SIGKILL stops everything it started.
const guard = fileURLToPath(new URL('./test-process-guard.ts', import.meta.url));
const runner = [
  process.execPath,
  '--conditions=source',
  '--import',
  'tsx',
  '--import',
  guard,
  '--test',
  '--test-concurrency=1',
  '--test-reporter=spec',
  ...files,
];
// The one setpriv wrapper (measure/src/tie.ts), loaded through tsx's API: this script runs on plain Node.
const { tiedCommand } = await tsImport('../measure/src/tie.ts', import.meta.url);
const { command, args } = tiedCommand(runner[0], runner.slice(1));
const child = spawn(command, args, { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 1)));
