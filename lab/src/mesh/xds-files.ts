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

function fileContents(mesh: MeshDescription, proxy: ProxyName, files: ProxyFiles): Map<string, string> {
  const resources = proxyResources(mesh, proxy, files);
  const out = new Map<string, string>();
  const add = (name: string, list: Record<string, unknown>[]) => {
    // version_info = content hash: identical files keep identical versions.
    const body = JSON.stringify(list);
    const version = createHash('sha256').update(body).digest('hex').slice(0, 12);
    out.set(name, `${JSON.stringify(discoveryResponse(version, list), null, 2)}\n`);
  };
  add(xdsFile.lds, resources.listeners);
  add(xdsFile.cds, resources.clusters);
  for (const route of resources.routes) add(xdsFile.rds(route.listener), [route.config]);
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

/** Writes (or updates) a proxy's bootstrap and xDS files; reports which subscriptions changed. */
export function writeProxyXds(mesh: MeshDescription, proxy: ProxyName, files: ProxyFiles): XdsWriteResult {
  mkdirSync(files.configDir, { recursive: true });
  writeFileSync(
    path.join(files.configDir, xdsFile.bootstrap),
    `${JSON.stringify(dynamicBootstrap(mesh, proxy, files), null, 2)}\n`,
  );
  const contents = fileContents(mesh, proxy, files);
  const current = currentVersionDir(files.configDir);
  const changed: string[] = [];
  for (const [name, text] of contents) {
    const previous = current ? readIfExists(path.join(files.configDir, current, name)) : null;
    if (previous !== text) changed.push(subscriptionOf(name));
  }
  if (current && changed.length === 0) return { changed };

  const nextDir = `..v${current ? Number(current.slice(3)) + 1 : 1}`;
  mkdirSync(path.join(files.configDir, nextDir));
  for (const [name, text] of contents) writeFileSync(path.join(files.configDir, nextDir, name), text);
  for (const name of contents.keys()) {
    const link = path.join(files.configDir, name);
    if (!existsSync(link)) symlinkSync(path.join('..data', name), link);
  }
  const tmpLink = path.join(files.configDir, '..data_tmp');
  rmSync(tmpLink, { force: true });
  symlinkSync(nextDir, tmpLink);
  renameSync(tmpLink, path.join(files.configDir, '..data'));
  if (current) rmSync(path.join(files.configDir, current), { recursive: true, force: true });
  return { changed };
}

function readIfExists(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}
