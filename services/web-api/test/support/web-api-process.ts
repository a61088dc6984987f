import { fileURLToPath } from 'node:url';
import { freePort } from '@recipe-mesh/measure/net';
import { nodeEntryArgs, startProcess } from '@recipe-mesh/measure/process';

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
export async function startMain(
  main: string,
  env: Record<string, string>,
  { readyTimeoutMs = 20_000 } = {},
): Promise<ServiceProcess & { port: number; adminPort: number }> {
  const port = Number(env.PORT ?? (await freePort()));
  const adminPort = Number(env.ADMIN_PORT ?? (await freePort()));
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const started = await startProcess({
    name: main,
    command: process.execPath,
    args: nodeEntryArgs(main),
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
    ready: async () => (await fetch(`${adminUrl}/readyz`)).status === 200,
    readyTimeoutMs,
  });
  return {
    url: `http://127.0.0.1:${port}`,
    adminUrl,
    pid: started.pid,
    port,
    adminPort,
    output: started.output,
    stop: started.stop,
  };
}

export function startWebApi(env: Record<string, string>) {
  return startMain(webApiMain, env);
}
