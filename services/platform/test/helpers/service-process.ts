import type { ChildProcess } from 'node:child_process';
import { nodeEntryArgs, startProcess } from '@recipe-mesh/measure/process';
import { repoRoot } from '@recipe-mesh/measure/repo';

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
  /** The Node binary (default: this one), e.g. the images' Node from @recipe-mesh/measure/image-node. */
  node?: string;
}): Promise<ServiceProcess> {
  const lines: LogLine[] = [];
  let stderr = '';
  const adminUrl = `http://127.0.0.1:${options.adminPort}`;
  const started = await startProcess({
    name: options.name,
    command: options.node ?? process.execPath,
    args: nodeEntryArgs(options.entry, ['@recipe-mesh/platform/telemetry']),
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      HOST: '127.0.0.1',
      PORT: String(options.httpPort),
      ADMIN_PORT: String(options.adminPort),
      ...options.env,
    },
    onLine(text, stream) {
      if (stream === 'stderr') {
        stderr += `${text}\n`;
        return;
      }
      if (!text.trim()) return;
      try {
        lines.push(JSON.parse(text) as LogLine);
      } catch {
        lines.push({ msg: text });
      }
    },
    ready: async () => (await fetch(`${adminUrl}/startupz`)).status === 200,
    readyTimeoutMs: options.startTimeoutMs ?? 30_000,
  });
  return {
    name: options.name,
    child: started.child,
    httpUrl: `http://127.0.0.1:${options.httpPort}`,
    adminUrl,
    logs: () => [...lines],
    stderr: () => stderr,
    exited: started.exited,
    kill: started.kill,
  };
}
