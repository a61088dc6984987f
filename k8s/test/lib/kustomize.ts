import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { findBinary } from '@recipe-mesh/measure/binaries';
import type { K8sObject } from './objects.js';
import { repoPath, repoRoot } from './repo.js';

/**
 * The kustomize to build with: kubectl's embedded one (kubectl ships on this project's machines),
 * else a standalone `kustomize` (`go install sigs.k8s.io/kustomize/kustomize/v5@v5.5.0`).
 */
function kustomizeCommand(): [string, string[]] {
  const kubectl = findBinary('kubectl');
  if (kubectl) return [kubectl, ['kustomize']];
  const kustomize = findBinary('kustomize');
  if (kustomize) return [kustomize, ['build']];
  throw new Error('neither kubectl nor kustomize is on PATH: the k8s checks need one of them to build the manifests');
}

/** `kubectl kustomize <dir>` (offline), parsed. Throws with kustomize's message on failure. */
export function kustomizeBuild(dir: string): K8sObject[] {
  let out: string;
  const [command, args] = kustomizeCommand();
  try {
    out = execFileSync(command, [...args, dir], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 << 20,
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw new Error(`kubectl kustomize ${path.relative(repoRoot, dir) || '.'} failed:\n${stderr}`);
  }
  return parseYamlDocuments(out);
}

export function parseYamlDocuments(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length) throw new Error(doc.errors.map((e) => e.message).join('\n'));
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null && typeof o === 'object');
}

/** One way to deploy: the minikube overlay plus some components (paths relative to the repo). */
export interface Combination {
  name: string;
  components: string[];
}

export const overlayDir = 'k8s/overlays/minikube';
export const optionalComponents = ['k8s/components/dragonfly'];

export function faultComponents(): string[] {
  const dir = repoPath('istio/faults');
  return readdirSync(dir)
    .filter((entry) => statSync(path.join(dir, entry)).isDirectory())
    .sort()
    .map((entry) => `istio/faults/${entry}`);
}

/** Every combination a user can deploy: with or without Dragonfly, with no fault or one. */
export function combinations(): Combination[] {
  const result: Combination[] = [];
  for (const store of [[], ...optionalComponents.map((c) => [c])]) {
    for (const fault of [undefined, ...faultComponents()]) {
      const components = [...store, ...(fault ? [fault] : [])];
      result.push({
        name: components.length ? components.map((c) => path.basename(c)).join('+') : 'minikube',
        components,
      });
    }
  }
  return result;
}

/** The kustomization `make deploy` writes (make/k8s.mk, k8s-overlay) for the same inputs. */
export function composedKustomization(components: string[], imageTag?: string): string {
  const lines = [
    'apiVersion: kustomize.config.k8s.io/v1beta1',
    'kind: Kustomization',
    'resources:',
    `  - ../overlays/minikube`,
  ];
  if (components.length) lines.push('components:', ...components.map((c) => `  - ../../${c}`));
  if (imageTag) {
    lines.push('images:');
    for (const svc of ['recipe-api', 'web-api'])
      lines.push(`  - name: recipe-mesh/${svc}`, `    newTag: "${imageTag}"`);
  }
  return `${lines.join('\n')}\n`;
}

const cache = new Map<string, K8sObject[]>();

/** Everything a build reads: a change to any of these files is a new cache key. */
const inputRoots = ['k8s/base', 'k8s/components', 'k8s/overlays', 'istio', 'grafana'];

function inputFingerprint(): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir).sort()) {
      if (entry.startsWith('.') || entry === 'node_modules') continue;
      const full = path.join(dir, entry);
      if (statSync(full).isDirectory()) walk(full);
      else hash.update(path.relative(repoRoot, full)).update('\0').update(readFileSync(full)).update('\0');
    }
  };
  for (const root of inputRoots) if (existsSync(repoPath(root))) walk(repoPath(root));
  return hash.digest('hex').slice(0, 16);
}

let fingerprint: string | undefined;
const diskCache = () => path.join(tmpdir(), 'recipe-mesh-k8s-builds');

/**
 * Builds a combination the way `make deploy` does: a kustomization in a directory directly under
 * k8s/ (kustomize refuses absolute paths and files outside a root, but not directories).
 * The test files run in separate processes and each builds the same combinations, so results are
 * kept on disk under a fingerprint of every input file; callers get a fresh copy.
 */
export function buildCombination(combination: Combination): K8sObject[] {
  fingerprint ??= inputFingerprint();
  const key = `${fingerprint}-${createHash('sha256').update(combination.components.join(',')).digest('hex').slice(0, 16)}`;
  let objects = cache.get(key);
  const file = path.join(diskCache(), `${key}.json`);
  if (!objects && existsSync(file)) objects = JSON.parse(readFileSync(file, 'utf8')) as K8sObject[];
  if (!objects) {
    const dir = mkdtempSync(repoPath('k8s/.test-'));
    try {
      writeFileSync(path.join(dir, 'kustomization.yaml'), composedKustomization(combination.components));
      objects = kustomizeBuild(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    mkdirSync(diskCache(), { recursive: true });
    writeFileSync(file, JSON.stringify(objects));
  }
  cache.set(key, objects);
  return structuredClone(objects);
}

export function buildDefault(): K8sObject[] {
  return buildCombination({ name: 'minikube', components: [] });
}
