import { type ChildProcess, spawn } from 'node:child_process';
import { waitFor } from './net.js';
import { tiedCommand } from './tie.js';

/**
 * The one helper that starts a child process for a test, a benchmark or `make run`: output kept
 * (the tail, for failure messages) and optionally streamed line by line, an `exited` promise, a
 * readiness check polled with a deadline that fails at once when the process exits first, and a
 * stop that sends SIGTERM to this process (by its own pid, never by name) and SIGKILL after a grace
 * period. The lab's long-lived supervisor (lab/src/process/processes.ts) detaches its processes
 * into their own groups and logs to files instead: a different job.
 */

export interface StartOptions {
  /** A name for messages, e.g. `recipe-api`. */
  name: string;
  command: string;
  args: string[];
  /** The whole environment (not merged with this process' own; spread `process.env` to inherit). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Each complete output line (stdout and stderr) as it arrives. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Polled until truthy; startup fails when it is not by `readyTimeoutMs` or the process exits first. */
  ready?: () => Promise<unknown> | unknown;
  readyTimeoutMs?: number;
  /** SIGTERM → SIGKILL grace period of `stop()` (default 5 s). */
  stopGraceMs?: number;
  /** Characters of output kept for `output()` (default 20,000). */
  keepOutput?: number;
}

export interface StartedProcess {
  name: string;
  child: ChildProcess;
  pid: number;
  /** The tail of stdout and stderr, interleaved as they arrived. */
  output(): string;
  /** The exit code, or the signal name, once the process has exited. */
  exited: Promise<number | NodeJS.Signals>;
  /** SIGTERM, SIGKILL after the grace period; resolves once exited. Safe to call twice. */
  stop(): Promise<void>;
  /** SIGKILL now (a crash); resolves once exited. */
  kill(): Promise<void>;
}

export async function startProcess(options: StartOptions): Promise<StartedProcess> {
  // Always tied: what this helper starts is stopped by its starter, and dies with it (tie.ts).
  const tied = tiedCommand(options.command, options.args);
  const child = spawn(tied.command, tied.args, {
    ...(options.cwd ? { cwd: options.cwd } : {}),
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = options.keepOutput ?? 20_000;
  let log = '';
  for (const stream of ['stdout', 'stderr'] as const) {
    let partial = '';
    child[stream]!.setEncoding('utf8').on('data', (chunk: string) => {
      log = (log + chunk).slice(-keep);
      if (!options.onLine) return;
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) options.onLine(line, stream);
    });
  }
  let spawnError: Error | undefined;
  const exited = new Promise<number | NodeJS.Signals>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1));
    child.once('error', (error) => {
      spawnError = error;
      resolve(-1);
    });
  });
  const running = () => child.exitCode === null && child.signalCode === null && !spawnError;
  const kill = async () => {
    if (running()) child.kill('SIGKILL');
    await exited;
  };
  const stop = async () => {
    if (!running()) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), options.stopGraceMs ?? 5000);
    await exited;
    clearTimeout(timer);
  };
  const started: StartedProcess = {
    name: options.name,
    child,
    pid: child.pid ?? -1,
    output: () => log,
    exited,
    stop,
    kill,
  };
  if (options.ready) {
    const ready = options.ready;
    try {
      // An exited process ends the poll at once (a truthy answer), then fails below.
      await waitFor(async () => !running() || (await ready()), {
        timeoutMs: options.readyTimeoutMs ?? 20_000,
        intervalMs: 100,
        what: `${options.name} ready`,
      });
      if (!running()) {
        const code = await exited;
        throw new Error(`${options.name} exited (${spawnError?.message ?? code}) during startup`);
      }
    } catch (error) {
      await stop();
      throw new Error(`${(error as Error).message}\n--- ${options.name} output ---\n${log}`);
    }
  }
  return started;
}

/** `node --conditions=source --import tsx [...imports] <entry>`: a TypeScript entry point run as in development. */
export function nodeEntryArgs(entry: string, imports: string[] = []): string[] {
  return ['--conditions=source', '--import', 'tsx', ...imports.flatMap((i) => ['--import', i]), entry];
}
