import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LabOptions } from '@recipe-mesh/lab/lab';
import { startPrivateLab as startLabOnFreePorts } from '@recipe-mesh/lab/private-lab';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Every lab port on a free port and a private state dir, so a developer's `make up` is never touched. */
export function startPrivateLab(
  log: (line: string) => void = () => {},
  appEnv: Record<string, string> = {},
  replicas: LabOptions['replicas'] = {},
) {
  return startLabOnFreePorts(repoRoot, log, { appEnv, replicas });
}
