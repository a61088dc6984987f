import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, portIsOpen, waitFor } from './net.js';

export interface RedisProcess {
  port: number;
  url: string;
  stop(): Promise<void>;
  /** Kill it (SIGKILL) without cleanup, to simulate a crash; `start()` brings it back on the same port. */
  kill(): Promise<void>;
  start(): Promise<void>;
}

/** A private, non-persistent redis-server on a free port, for tests and `make run`. */
export async function startRedis(binary: string, extraArgs: string[] = []): Promise<RedisProcess> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-redis-'));
  let child: ChildProcess | undefined;

  const start = async () => {
    child = spawn(
      binary,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs],
      { stdio: 'ignore' },
    );
    await waitFor(() => portIsOpen(port), { what: `redis-server on ${port}` });
  };
  const exited = (c: ChildProcess) =>
    c.exitCode !== null || c.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((r) => c.once('exit', () => r()));
  const kill = async () => {
    if (!child) return;
    const c = child;
    c.kill('SIGKILL');
    await exited(c);
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    start,
    kill,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
