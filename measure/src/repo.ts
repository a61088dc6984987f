import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository root, whatever the working directory: the one place that counts `../` to it.
 * This file sits two levels below the root both as source (measure/src) and built (measure/dist).
 */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');

/** A path inside the repository: `repoPath('k8s', 'base')`. */
export function repoPath(...segments: string[]): string {
  return path.join(repoRoot, ...segments);
}
