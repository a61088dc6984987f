import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { supervisedCommand } from '@recipe-mesh/measure/tie';
import type { InstanceInfo } from '../workloads/services.js';
import { labIdEnv, type ProcessKind, type ProcessRecord } from './state.js';

export interface LaunchSpec {
  name: string;
  kind: ProcessKind;
  command: string;
  args: string[];
  env?: Record<string, string>;
  cwd: string;
  log: string;
  ports: { name: string; port: number }[];
  url: string | null;
  readyUrl: string | null;
  /** Apps: the instance this process is (recorded, with `env`, so siblings start alike). */
  instance?: InstanceInfo;
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks), or null off Linux. */
export function processStartTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses; fields resume after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null;
  } catch {
    return null;
  }
}

/** Process group id from /proc/<pid>/stat (field 5), or null off Linux. */
export function processGroup(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const group = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
    return Number.isInteger(group) ? group : null;
  } catch {
    return null;
  }
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

export function isRunning(record: Pick<ProcessRecord, 'pid' | 'startTicks'>): boolean {
  if (!pidExists(record.pid) || isZombie(record.pid)) return false;
  if (record.startTicks === null) return true;
  return processStartTicks(record.pid) === record.startTicks;
}

/**
 * Starts a process in its own process group (so stopping it stops anything it forked), detached
 * from the CLI with output appended to its log file, tagged with the lab id in its env.
 */
export function launch(spec: LaunchSpec, labId: string): ProcessRecord {
  const fd = openSync(spec.log, 'a');
  try {
    // In a test process the child dies with it; under `make up` it outlives the CLI (measure/src/tie.ts).
    const supervised = supervisedCommand(spec.command, spec.args);
    const child = spawn(supervised.command, supervised.args, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env, [labIdEnv]: labId },
      stdio: ['ignore', fd, fd],
      detached: true,
    });
    if (child.pid === undefined) throw new Error(`could not start ${spec.name} (${spec.command})`);
    // A failed exec shows up as an 'error' event; record it in the log instead of crashing the CLI.
    child.on('error', () => undefined);
    child.unref();
    return {
      name: spec.name,
      kind: spec.kind,
      pid: child.pid,
      startTicks: processStartTicks(child.pid),
      command: [spec.command, ...spec.args],
      log: spec.log,
      ports: spec.ports,
      url: spec.url,
      readyUrl: spec.readyUrl,
      ...(spec.instance ? { instance: spec.instance, env: spec.env ?? {} } : {}),
    };
  } finally {
    closeSync(fd);
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, sig);
    } catch {
      /* already gone, or not a group leader */
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * SIGTERM every process group (the services drain and exit 0 on it), then SIGKILL whatever is
 * left after `graceMs`. Returns the names that needed SIGKILL.
 */
export async function stopAll(
  records: Pick<ProcessRecord, 'name' | 'pid' | 'startTicks'>[],
  graceMs = 15_000,
): Promise<string[]> {
  const alive = records.filter(isRunning);
  for (const r of alive) signal(r.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && alive.some(isRunning)) await sleep(100);
  const killed = alive.filter(isRunning);
  for (const r of killed) signal(r.pid, 'SIGKILL');
  const killDeadline = Date.now() + 5_000;
  while (Date.now() < killDeadline && killed.some(isRunning)) await sleep(50);
  return killed.map((r) => r.name);
}

/**
 * Processes carrying this lab's id in their environment (Linux /proc): what `down` also stops,
 * so a lost or half-written state file still leaves nothing behind.
 */
export function findTaggedProcesses(labId: string): number[] {
  const marker = `${labIdEnv}=${labId}\0`;
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
      if (`${environ}\0`.includes(marker)) pids.push(pid);
    } catch {
      /* gone or not ours to read */
    }
  }
  return pids;
}
