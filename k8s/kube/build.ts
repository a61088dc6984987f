import { spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pins } from './versions.js';

/**
 * The control plane's binaries, built from the Go module proxy into a cache outside the repository
 * (docs/kubernetes.md): one directory per tool and pinned version, so a new pin builds anew and an
 * old one is reused. Nothing built here is ever committed.
 */

const kubeDir = path.dirname(fileURLToPath(import.meta.url));

/** `$RECIPE_MESH_KUBE_CACHE`, else `$XDG_CACHE_HOME/recipe-mesh/kube`, else `~/.cache/recipe-mesh/kube`. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.RECIPE_MESH_KUBE_CACHE) return env.RECIPE_MESH_KUBE_CACHE;
  return path.join(env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'recipe-mesh', 'kube');
}

export type ToolName = 'kubernetes' | 'etcd' | 'kwok' | 'istio' | 'pilot-discovery' | 'kube-score';

interface Tool {
  version: string;
  /** Files the finished directory holds; the tool is rebuilt when one is missing. */
  files: string[];
  /** Builds into `out` (a fresh directory), reporting Go's package lines through `step`. */
  build(out: string, step: (line: string) => void): Promise<void>;
}

const kubernetesLdflags = [
  '-s -w',
  `-X k8s.io/component-base/version.gitVersion=${pins.kubernetes}`,
  `-X k8s.io/client-go/pkg/version.gitVersion=${pins.kubernetes}`,
].join(' ');

/** The directory of a module version in Go's module cache (downloaded when missing). */
export async function moduleDir(module: string, version: string): Promise<string> {
  let json = '';
  await run('go', ['mod', 'download', '-json', `${module}@${version}`], {
    cwd: kubeDir,
    onLine: (line) => {
      json += `${line}\n`;
    },
  });
  const dir = (JSON.parse(json) as { Dir?: string }).Dir;
  if (!dir) throw new Error(`go mod download ${module}@${version} gave no directory`);
  return dir;
}

const tools: Record<ToolName, Tool> = {
  kubernetes: {
    version: pins.kubernetes,
    files: ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'],
    build: (out, step) => goBuild(path.join(kubeDir, 'go', 'kubernetes'), ['./cmd/...'], out, kubernetesLdflags, step),
  },
  etcd: {
    version: pins.etcd,
    files: ['etcd'],
    build: (out, step) => goBuild(path.join(kubeDir, 'go', 'etcd'), ['./cmd/etcd'], out, '-s -w', step),
  },
  kwok: {
    version: pins.kwok,
    files: ['kwok', 'stages/node-fast.yaml', 'stages/node-heartbeat-with-lease.yaml', 'stages/pod-fast.yaml'],
    async build(out, step) {
      await goInstall(`sigs.k8s.io/kwok/cmd/kwok@${pins.kwok}`, out, step);
      // kwok exits "no stages found" without stage configs; they ship in its module, not its binary.
      const source = await moduleDir('sigs.k8s.io/kwok', pins.kwok);
      mkdirSync(path.join(out, 'stages'));
      for (const stage of ['node/fast', 'node/heartbeat-with-lease', 'pod/fast']) {
        const dir = path.join(source, 'kustomize', 'stage', stage);
        const yaml = readdirSync(dir)
          .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
          .sort();
        if (yaml.length === 0) throw new Error(`no stage files in ${dir}`);
        const target = path.join(out, 'stages', `${stage.replace('/', '-')}.yaml`);
        writeFileSync(target, yaml.map((f) => readFileSync(path.join(dir, f), 'utf8')).join('\n---\n'));
        chmodSync(target, 0o644);
      }
    },
  },
  istio: {
    version: pins.istio,
    files: ['istioctl', 'crd-all.gen.yaml'],
    async build(out, step) {
      await goInstall(`istio.io/istio/istioctl/cmd/istioctl@${pins.istio}`, out, step);
      const source = await moduleDir('istio.io/istio', pins.istio);
      const target = path.join(out, 'crd-all.gen.yaml');
      copyFileSync(path.join(source, 'manifests', 'charts', 'base', 'files', 'crd-all.gen.yaml'), target);
      chmodSync(target, 0o644);
    },
  },
  /**
   * istiod's binary, from the same istio.io/istio version as istioctl (it shares most of
   * istioctl's packages, so with Go's build cache warm it mostly links): the tests read the Envoy
   * configuration it generates for the mesh (k8s/test/istiod.test.ts, docs/lab.md).
   */
  'pilot-discovery': {
    version: pins.istio,
    files: ['pilot-discovery'],
    build: (out, step) => goInstall(`istio.io/istio/pilot/cmd/pilot-discovery@${pins.istio}`, out, step),
  },
  'kube-score': {
    version: pins.kubeScore,
    files: ['kube-score'],
    build: (out, step) => goInstall(`github.com/zegl/kube-score/cmd/kube-score@${pins.kubeScore}`, out, step),
  },
};

export const toolNames = Object.keys(tools) as ToolName[];

export function toolDir(name: ToolName, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheRoot(env), `${name}-${tools[name].version}`);
}

/** The path of one of a tool's files, or null when it has not been built. */
export function builtFile(name: ToolName, file: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const full = path.join(toolDir(name, env), file);
  return existsSync(full) ? full : null;
}

export function isBuilt(name: ToolName, env: NodeJS.ProcessEnv = process.env): boolean {
  return tools[name].files.every((f) => builtFile(name, f, env) !== null);
}

/**
 * Builds each tool that is not in the cache yet, printing progress (the first build takes minutes:
 * the Kubernetes binaries compile about 2,000 packages). Builds into `<dir>.partial` and renames, so an
 * interrupted build is never mistaken for a finished one.
 */
export async function ensureBuilt(
  names: ToolName[] = toolNames,
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<void> {
  for (const name of names) {
    if (isBuilt(name)) continue;
    const dir = toolDir(name);
    const partial = `${dir}.partial`;
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial, { recursive: true });
    const started = Date.now();
    let packages = 0;
    let last = '';
    log(`kube: building ${name} ${tools[name].version} into ${dir} (first time only; minutes)`);
    const timer = setInterval(() => {
      log(`kube:   ${name}: ${Math.round((Date.now() - started) / 1000)} s, ${packages} packages, last ${last}`);
    }, 20_000);
    try {
      await tools[name].build(partial, (line) => {
        packages += 1;
        last = line;
      });
    } finally {
      clearInterval(timer);
    }
    rmSync(dir, { recursive: true, force: true });
    renameSync(partial, dir);
    log(`kube: built ${name} in ${Math.round((Date.now() - started) / 1000)} s`);
  }
}

function goBuild(cwd: string, packages: string[], out: string, ldflags: string, step: (l: string) => void) {
  return run('go', ['build', '-v', '-trimpath', '-ldflags', ldflags, '-o', `${out}${path.sep}`, ...packages], {
    cwd,
    onLine: step,
  });
}

function goInstall(target: string, out: string, step: (l: string) => void) {
  return run('go', ['install', '-v', '-trimpath', '-ldflags', '-s -w', target], {
    cwd: kubeDir,
    env: { GOBIN: out },
    onLine: step,
  });
}

/** Runs a command; each line of stdout and stderr goes to onLine; rejects with the tail on failure. */
function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string>; onLine: (line: string) => void },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, GOFLAGS: '-mod=readonly', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tail: string[] = [];
    let pending = '';
    const onData = (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        options.onLine(line);
        tail.push(line);
        if (tail.length > 30) tail.shift();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (error) =>
      reject(new Error(`${command} could not start (${error.message}); Go 1.24 or newer is needed`)),
    );
    child.on('close', (code) => {
      if (pending) options.onLine(pending);
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')} failed (exit ${code}):\n${tail.join('\n')}`));
    });
  });
}
