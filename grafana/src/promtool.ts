import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';

const run = promisify(execFile);

export interface PromtoolResult {
  ok: boolean;
  output: string;
}

async function promtool(binary: string, args: string[]): Promise<PromtoolResult> {
  try {
    const { stdout, stderr } = await run(binary, args, { maxBuffer: 16 * 1024 * 1024 });
    return { ok: true, output: stdout + stderr };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: (e.stdout ?? '') + (e.stderr ?? '') || e.message };
  }
}

export const checkRules = (binary: string, files: string[]) => promtool(binary, ['check', 'rules', ...files]);
export const testRules = (binary: string, files: string[]) => promtool(binary, ['test', 'rules', ...files]);

/**
 * Parses each expression with the Prometheus version installed (promtool 2.42 has no
 * `promql` sub-command, so each expression becomes a recording rule in a throw-away rule file and
 * `promtool check rules` parses them all, reporting every bad rule by its index).
 * Returns the error message per failing expression index.
 */
export async function parseErrors(binary: string, exprs: string[]): Promise<Map<number, string>> {
  const errors = new Map<number, string>();
  if (exprs.length === 0) return errors;
  const dir = await mkdtemp(path.join(tmpdir(), 'promql-check-'));
  try {
    const file = path.join(dir, 'exprs.yaml');
    const rules = exprs.map((expr, i) => ({ record: `promql_check:expr:${i}`, expr }));
    await writeFile(file, stringify({ groups: [{ name: 'promql-check', rules }] }));
    const result = await checkRules(binary, [file]);
    if (result.ok) return errors;
    for (const match of result.output.matchAll(/rule (\d+), "promql_check:expr:\d+": (.*)/g)) {
      errors.set(Number(match[1]) - 1, match[2]!);
    }
    if (errors.size === 0) throw new Error(`promtool failed without naming a rule:\n${result.output}`);
    return errors;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
