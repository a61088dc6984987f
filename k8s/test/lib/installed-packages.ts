import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

/**
 * The packages an image's node_modules holds, and the ones the lockfile installs for one dependency
 * alone: what the rehearsal checks after the Dockerfile drops a tree nothing loads (its deps stages).
 */

/** Every package directory under `appDir`/node_modules, scoped and nested, relative to `appDir`. */
export function installedPackages(appDir: string): string[] {
  const found: string[] = [];
  const walk = (modulesDir: string) => {
    if (!existsSync(modulesDir)) return;
    for (const entry of readdirSync(modulesDir)) {
      if (entry.startsWith('.')) continue;
      const names = entry.startsWith('@')
        ? readdirSync(path.join(modulesDir, entry)).map((name) => `${entry}/${name}`)
        : [entry];
      for (const name of names) {
        const dir = path.join(modulesDir, name);
        // A workspace link whose target the image does not hold is no package of the image.
        if (!existsSync(path.join(dir, 'package.json'))) continue;
        found.push(path.relative(appDir, dir));
        walk(path.join(dir, 'node_modules'));
      }
    }
  };
  walk(path.join(appDir, 'node_modules'));
  return found;
}

interface LockedPackage {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/** Where Node's resolution finds `name` from the lockfile location `from` ("" is the root). */
function resolveLocked(packages: Record<string, LockedPackage>, from: string, name: string): string | undefined {
  for (let dir = from; ; ) {
    const candidate = `${dir ? `${dir}/` : ''}node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!dir) return undefined;
    const parent = dir.lastIndexOf('/node_modules/');
    dir = parent >= 0 ? dir.slice(0, parent) : '';
  }
}

/** The lockfile locations `roots` reach through dependencies, optional and peer ones, except `skip`ped edges. */
function reachable(packages: Record<string, LockedPackage>, roots: string[], skip: (name: string) => boolean) {
  const reached = new Set<string>();
  const visit = (location: string) => {
    if (reached.has(location)) return;
    reached.add(location);
    const locked = packages[location] ?? {};
    const names = [locked.dependencies, locked.optionalDependencies, locked.peerDependencies].flatMap((deps) =>
      Object.keys(deps ?? {}),
    );
    for (const name of names.filter((n) => !skip(n))) {
      const found = resolveLocked(packages, location, name);
      if (found) visit(found);
    }
  };
  roots.forEach(visit);
  return reached;
}

/**
 * The packages (lockfile locations such as `node_modules/protobufjs`) that `roots` (workspace
 * locations) reach only through a dependency on `dependency`, per package-lock.json: what an install
 * of those workspaces holds for that dependency alone.
 */
export function reachedOnlyThrough(lockfileText: string, roots: string[], dependency: string): string[] {
  const { packages } = JSON.parse(lockfileText) as { packages: Record<string, LockedPackage> };
  const all = reachable(packages, roots, () => false);
  const without = reachable(packages, roots, (name) => name === dependency);
  return [...all].filter((location) => !without.has(location));
}
