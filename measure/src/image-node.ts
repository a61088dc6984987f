// The Node the images run, on this machine: the version the Dockerfile's NODE_IMAGE names, from the
// npm registry's per-platform package (node-<platform>-<arch>, the binary the `node` package
// installs), in ~/.cache/recipe-mesh/node-<version>. `make bench` runs the services and the floors
// on it, so the numbers are those of the process a pod runs, not of whatever Node the machine has:
// heap layout, resident size and the cost of async context differ between majors
// (docs/benchmarks.md). Tests run the telemetry bootstrap on it too, as its loader hook takes
// another path there.
//
//   node --conditions=source --import tsx measure/src/image-node.ts install   # prints the binary's path
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoPath } from './repo.js';

/** `24.21.0` from `ARG NODE_IMAGE=node:24.21.0-bookworm-slim`: the Dockerfile is the one source. */
export function imageNodeVersion(dockerfile = repoPath('Dockerfile')): string {
  const match = /^ARG NODE_IMAGE=node:(\d+\.\d+\.\d+)\b/m.exec(readFileSync(dockerfile, 'utf8'));
  if (!match) throw new Error(`${dockerfile} names no NODE_IMAGE=node:<x.y.z>`);
  return match[1]!;
}

export interface ImageNode {
  version: string;
  /** Where the binary is (or goes). */
  path: string;
  installed: boolean;
}

export function imageNode(env: NodeJS.ProcessEnv = process.env): ImageNode {
  const version = imageNodeVersion();
  const cache = path.join(env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'recipe-mesh', `node-${version}`);
  const binary = path.join(cache, 'bin', 'node');
  return { version, path: binary, installed: existsSync(binary) };
}

/** Fetches the binary once (npm pack of node-<platform>-<arch>@<version>); a no-op when present. */
export function installImageNode(): ImageNode {
  const node = imageNode();
  if (node.installed) return node;
  const work = mkdtempSync(path.join(tmpdir(), 'image-node-'));
  try {
    const spec = `node-${process.platform}-${process.arch}@${node.version}`;
    const tarball = execFileSync('npm', ['pack', spec, '--pack-destination', work, '--silent'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .at(-1)!;
    execFileSync('tar', ['-xzf', path.join(work, tarball), '-C', work, 'package/bin/node']);
    mkdirSync(path.dirname(node.path), { recursive: true });
    // Copied whole, then made executable: a half-written binary is never at the final path.
    const partial = `${node.path}.partial`;
    copyFileSync(path.join(work, 'package/bin/node'), partial);
    chmodSync(partial, 0o755);
    const reported = execFileSync(partial, ['--version'], { encoding: 'utf8' }).trim();
    if (reported !== `v${node.version}`) throw new Error(`${spec} runs as ${reported}, not v${node.version}`);
    copyFileSync(partial, node.path);
    chmodSync(node.path, 0o755);
    rmSync(partial);
    return { ...node, installed: true };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** For `make bench` and profile.ts: the installed binary, or an error that says how to install it. */
export function installedImageNode(): ImageNode {
  const node = imageNode();
  if (!node.installed)
    throw new Error(`the images' Node v${node.version} is not at ${node.path}: run \`make lab-deps\``);
  return node;
}

/**
 * For tests: the binary's path once installed; when missing, a one-line skip reason locally and a
 * thrown error under CI=true (.ci/run installs it), as for the other binaries (binaries.ts).
 */
export function requireImageNode(): { path: string } | { skip: string } {
  const node = imageNode();
  if (node.installed) return { path: node.path };
  const reason = `the images' Node v${node.version} is not installed (make lab-deps)`;
  if (process.env.CI === 'true') throw new Error(`CI=true but ${reason}`);
  return { skip: reason };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const command = process.argv[2];
  if (command === 'install') console.log(installImageNode().path);
  else if (command === 'path') console.log(imageNode().path);
  else {
    console.error('usage: image-node.ts install|path');
    process.exit(2);
  }
}
