import { execFile } from 'node:child_process';

/** `promtool check metrics` (Prometheus's own linter) on an exposition; resolves with its output. */
export function promtoolCheckMetrics(promtool: string, exposition: string): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    const child = execFile(promtool, ['check', 'metrics'], (error, stdout, stderr) =>
      resolve({ ok: !error, output: `${stdout}${stderr}` }),
    );
    child.stdin!.end(exposition);
  });
}
