import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '@recipe-mesh/platform/testing/net';

export const webApiMain = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export interface ServiceProcess {
  url: string;
  adminUrl: string;
  pid: number;
  /** stdout and stderr so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts a service's real main.ts as a child process (as `make run` does, with the `source`
 * condition and tsx) on free ports, and waits for its readiness probe.
 */
export async function startService(
  main: string,
  env: Record<string, string>,
  { readyTimeoutMs = 20_000 } = {},
): Promise<ServiceProcess & { port: number; adminPort: number }> {
  const port = Number(env.PORT ?? (await freePort()));
  const adminPort = Number(env.ADMIN_PORT ?? (await freePort()));
  const child: ChildProcess = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', main], {
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      SHUTDOWN_DRAIN_DELAY_MS: '0',
      SHUTDOWN_TIMEOUT_MS: '2000',
      ...env,
      PORT: String(port),
      ADMIN_PORT: String(adminPort),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };

  const adminUrl = `http://127.0.0.1:${adminPort}`;
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
        const res = await fetch(`${adminUrl}/readyz`);
        return res.status === 200;
      },
      { timeoutMs: readyTimeoutMs, intervalMs: 100, what: `${main} ready` },
    );
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n--- output ---\n${output}`);
  }
  return { url: `http://127.0.0.1:${port}`, adminUrl, pid: child.pid!, port, adminPort, output: () => output, stop };
}

export function startWebApi(env: Record<string, string>) {
  return startService(webApiMain, env);
}
