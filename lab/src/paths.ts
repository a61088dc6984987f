import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LabError } from './errors.js';
import type { MeshDescription, ProxyName } from './mesh/description.js';
import type { ProxyFiles } from './mesh/envoy-config.js';
import { repoRoot } from '@recipe-mesh/measure/repo';

/** True when running from TypeScript sources (tsx), false from dist. */
export const sourceMode = import.meta.url.endsWith('.ts');

export interface LabPaths {
  root: string;
  stateDir: string;
  logs: string;
  envoy: string;
  traces: string;
  spansFile: string;
  prometheus: string;
  redis: string;
  meshFile: string;
}

export function labPaths(options: { root?: string; stateDir?: string } = {}): LabPaths {
  const root = path.resolve(options.root ?? repoRoot);
  const stateDir = path.resolve(options.stateDir ?? process.env.LAB_STATE_DIR ?? path.join(root, '.lab'));
  return {
    root,
    stateDir,
    logs: path.join(stateDir, 'logs'),
    envoy: path.join(stateDir, 'envoy'),
    traces: path.join(stateDir, 'traces'),
    spansFile: path.join(stateDir, 'traces', 'spans.ndjson'),
    prometheus: path.join(stateDir, 'prometheus'),
    redis: path.join(stateDir, 'redis'),
    meshFile: path.join(stateDir, 'mesh.json'),
  };
}

export function proxyFiles(paths: LabPaths, proxy: ProxyName): ProxyFiles {
  return { configDir: path.join(paths.envoy, proxy), accessLog: path.join(paths.logs, `${proxy}.access.log`) };
}

/** The mesh description the running lab's Envoys were rendered from (written by `lab up`, changed by applyMeshConfig). */
export function readMeshFile(paths: LabPaths): MeshDescription {
  try {
    return JSON.parse(readFileSync(paths.meshFile, 'utf8')) as MeshDescription;
  } catch {
    throw new LabError('no mesh description: the lab is not up in mesh mode (is envoy installed?)');
  }
}
