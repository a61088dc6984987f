import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPrivateLab as startLabOnFreePorts } from '@recipe-mesh/lab/private-lab';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Every lab port on a free port and a private state dir, so a developer's `make up` is never touched. */
export function startPrivateLab(log: (line: string) => void = () => {}, appEnv: Record<string, string> = {}) {
  return startLabOnFreePorts(repoRoot, log, { appEnv });
}
