import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@recipe-mesh/platform/testing/net';

/** The repository root, where `--import @recipe-mesh/platform/telemetry` resolves. */
export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

export interface LogLine {
  level?: string;
  msg?: string;
  trace_id?: string;
  span_id?: string;
  [field: string]: unknown;
}

export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  httpUrl: string;
  adminUrl: string;
  /** pino lines written to stdout so far (non-JSON lines are kept as `{ msg: <text> }`). */
  logs(): LogLine[];
  stderr(): string;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  exited: Promise<number | NodeJS.Signals>;
  /** SIGKILL if still running; safe to call twice. */
  kill(): Promise<void>;
}

/**
 * Starts a service entry point the way the contracts say it runs in development:
 * `node --conditions=source --import tsx --import @recipe-mesh/platform/telemetry <entry>`,
 * and resolves once its admin port answers `GET /startupz` with 200.
 */
export async function startService(options: {
  name: string;
  entry: string;
  env: Record<string, string>;
  httpPort: number;
  adminPort: number;
  startTimeoutMs?: number;
}): Promise<ServiceProcess> {
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', '--import', '@recipe-mesh/platform/telemetry', options.entry],
    {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        HOST: '127.0.0.1',
        PORT: String(options.httpPort),
        ADMIN_PORT: String(options.adminPort),
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: LogLine[] = [];
  let partial = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const text of parts) {
      if (!text.trim()) continue;
      try {
        lines.push(JSON.parse(text) as LogLine);
      } catch {
        lines.push({ msg: text });
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | NodeJS.Signals>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  let done = false;
  void exited.then(() => (done = true));

  const service: ServiceProcess = {
    name: options.name,
    child,
    httpUrl: `http://127.0.0.1:${options.httpPort}`,
    adminUrl: `http://127.0.0.1:${options.adminPort}`,
    logs: () => [...lines],
    stderr: () => stderr,
    exited,
    async kill() {
      if (!done) child.kill('SIGKILL');
      await exited;
    },
  };
  try {
    await Promise.race([
      waitFor(async () => (await fetch(`${service.adminUrl}/startupz`)).status === 200, {
        timeoutMs: options.startTimeoutMs ?? 30_000,
        intervalMs: 100,
        what: `${options.name} /startupz`,
      }),
      exited.then((code) => {
        throw new Error(`${options.name} exited (${code}) during startup: ${stderr.slice(-2000)}`);
      }),
    ]);
  } catch (error) {
    await service.kill();
    throw error;
  }
  return service;
}
