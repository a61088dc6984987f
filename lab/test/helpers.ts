import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopLab, type AppCommand } from '../src/lab.js';
import { isRunning } from '../src/process/processes.js';
import type { ProbeTiming } from '../src/workloads/manifests.js';

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'stand-in-app.ts');

/** Starts a stand-in app (fixtures/stand-in-app.ts) in place of a real service. */
export function standIn(role: 'web-api' | 'recipe-api'): AppCommand {
  return { command: process.execPath, args: ['--import', 'tsx', fixture, role] };
}

export { freeLabPorts } from '../src/private-lab.js';

export function tempStateDir(t: { after(fn: () => unknown): void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-lab-'));
  // node:test runs after-hooks in the order they were added, and this one comes first: it stops any
  // lab still running in `dir` (a no-op when none is) before removing the directory, which its
  // processes would otherwise still be writing to (ENOTEMPTY).
  t.after(async () => {
    await stopLab({ stateDir: dir, graceMs: 8000 });
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/**
 * Pids still running among `pids`. A zombie has exited: it only waits for its parent (this test
 * process, which started it) to reap it, which Node does on its next SIGCHLD turn.
 */
export function alivePids(pids: number[]): number[] {
  return pids.filter((pid) => isRunning({ pid, startTicks: null }));
}

/** The readiness probe both Deployments in k8s/base set (manifests.test.ts checks the render gives it). */
export const baseReadiness: ProbeTiming = {
  path: '/readyz',
  periodMs: 5000,
  timeoutMs: 2000,
  failureThreshold: 2,
  successThreshold: 1,
  initialDelayMs: 0,
};
