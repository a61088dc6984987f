import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type { MeshDescription, ProxyName } from './description.js';
import { edsDir, type Workloads } from './endpoints.js';
import { discoveryResponse, dynamicBootstrap, proxyResources, xdsFile, type ProxyFiles } from './envoy-config.js';

/**
 * File-based xDS laid out like a Kubernetes ConfigMap volume: `lds.json -> ..data/lds.json`,
 * `..data -> ..v<N>`. An update writes a new `..v<N+1>` and swaps the `..data` symlink with one
 * rename, so Envoy's `watched_directory` sees a single move and every subscription reloads once
 * with all files already in place (Envoy docs: config.core.v3.PathConfigSource.watched_directory,
 * which names this ConfigMap pattern).
 */

export interface XdsWriteResult {
  /** Subscriptions whose file content changed: `lds`, `cds`, or `rds:<listener>`. */
  changed: string[];
}

function versioned(list: Record<string, unknown>[]): string {
  // version_info = content hash: identical files keep identical versions.
  const body = JSON.stringify(list);
  const version = createHash('sha256').update(body).digest('hex').slice(0, 12);
  return `${JSON.stringify(discoveryResponse(version, list), null, 2)}\n`;
}

function fileContents(
  mesh: MeshDescription,
  proxy: ProxyName,
  files: ProxyFiles,
  workloads: Workloads | undefined,
): Map<string, string> {
  const resources = proxyResources(mesh, proxy, files, workloads);
  const out = new Map<string, string>();
  out.set(xdsFile.lds, versioned(resources.listeners));
  out.set(xdsFile.cds, versioned(resources.clusters));
  for (const route of resources.routes) out.set(xdsFile.rds(route.listener), versioned([route.config]));
  return out;
}

function subscriptionOf(file: string): string {
  if (file === xdsFile.lds) return 'lds';
  if (file === xdsFile.cds) return 'cds';
  return `rds:${file.replace(/^rds-/, '').replace(/\.json$/, '')}`;
}

function currentVersionDir(configDir: string): string | null {
  const dirs = existsSync(configDir) ? readdirSync(configDir).filter((d) => /^\.\.v\d+$/.test(d)) : [];
  if (dirs.length === 0) return null;
  return dirs.sort((a, b) => Number(a.slice(3)) - Number(b.slice(3))).at(-1)!;
}

/**
 * Replaces the files of a ConfigMap-style directory in one move of its `..data` link and returns
 * the names whose content changed (nothing is written when none did). Links of files no longer
 * in `contents` are removed after the swap.
 */
export function writeConfigMapDir(dir: string, contents: Map<string, string>): string[] {
  mkdirSync(dir, { recursive: true });
  const current = currentVersionDir(dir);
  const changed: string[] = [];
  for (const [name, text] of contents) {
    const previous = current ? readIfExists(path.join(dir, current, name)) : null;
    if (previous !== text) changed.push(name);
  }
  const previousNames = current ? readdirSync(path.join(dir, current)) : [];
  const removed = previousNames.filter((name) => !contents.has(name));
  if (current && changed.length === 0 && removed.length === 0) return changed;

  const nextDir = `..v${current ? Number(current.slice(3)) + 1 : 1}`;
  mkdirSync(path.join(dir, nextDir));
  for (const [name, text] of contents) writeFileSync(path.join(dir, nextDir, name), text);
  for (const name of contents.keys()) {
    const link = path.join(dir, name);
    if (!existsSync(link)) symlinkSync(path.join('..data', name), link);
  }
  const tmpLink = path.join(dir, '..data_tmp');
  rmSync(tmpLink, { force: true });
  symlinkSync(nextDir, tmpLink);
  renameSync(tmpLink, path.join(dir, '..data'));
  for (const name of removed) rmSync(path.join(dir, name), { force: true });
  if (current) rmSync(path.join(dir, current), { recursive: true, force: true });
  return changed;
}

/** Writes (or updates) a proxy's bootstrap and xDS files; reports which subscriptions changed. */
export function writeProxyXds(
  mesh: MeshDescription,
  proxy: ProxyName,
  files: ProxyFiles,
  workloads?: Workloads,
): XdsWriteResult {
  mkdirSync(files.configDir, { recursive: true });
  writeFileSync(
    path.join(files.configDir, xdsFile.bootstrap),
    `${JSON.stringify(dynamicBootstrap(mesh, proxy, files), null, 2)}\n`,
  );
  const changed = writeConfigMapDir(files.configDir, fileContents(mesh, proxy, files, workloads));
  return { changed: changed.map(subscriptionOf) };
}

/**
 * Writes a proxy's EDS files (one ClusterLoadAssignment per file, keyed by file name) in their own
 * ConfigMap-style directory; returns the files that changed.
 */
export function writeEdsFiles(files: ProxyFiles, assignments: Map<string, Record<string, unknown>>): string[] {
  const contents = new Map([...assignments].map(([name, assignment]) => [name, versioned([assignment])]));
  return writeConfigMapDir(edsDir(files.configDir), contents);
}

function readIfExists(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}
