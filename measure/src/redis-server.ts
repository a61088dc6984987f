import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, portIsOpen } from './net.js';
import { type StartedProcess, startProcess } from './process.js';

export interface RedisProcess {
  port: number;
  url: string;
  stop(): Promise<void>;
  /** Kill it (SIGKILL) without cleanup, to simulate a crash; `start()` brings it back on the same port. */
  kill(): Promise<void>;
  start(): Promise<void>;
}

/**
 * redis-server's arguments for a private, non-persistent instance (no RDB snapshots, no AOF,
 * loopback only): the lab's Redis and the tests' Redis start the same way.
 */
export function privateRedisArgs(port: number, dir: string): string[] {
  return ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
}

/** A private, non-persistent redis-server on a free port, for tests and `make run`. */
export async function startRedis(binary: string, extraArgs: string[] = []): Promise<RedisProcess> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-redis-'));
  let current: StartedProcess | undefined;

  const start = async () => {
    current = await startProcess({
      name: `redis-server on ${port}`,
      command: binary,
      args: [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        ...extraArgs,
      ],
      ready: () => portIsOpen(port),
      readyTimeoutMs: 10_000,
    });
  };
  const kill = async () => {
    await current?.kill();
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
