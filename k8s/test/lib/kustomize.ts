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
import {
  inputFingerprint,
  kustomizeBuild as renderWithKustomize,
  parseYamlDocuments as parseRendered,
} from '@recipe-mesh/lab/workloads/kustomize';
import type { K8sObject } from './objects.js';
import { repoPath, repoRoot } from './repo.js';

/** `kubectl kustomize <dir>` (offline), parsed; the lab renders the overlay with the same function. */
export function kustomizeBuild(dir: string): K8sObject[] {
  return renderWithKustomize(dir, path.relative(repoRoot, dir) || '.') as K8sObject[];
}

export function parseYamlDocuments(text: string): K8sObject[] {
  return parseRendered(text) as K8sObject[];
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

let fingerprint: string | undefined;
const diskCache = () => path.join(tmpdir(), 'recipe-mesh-k8s-builds');

/**
 * Builds a combination the way `make deploy` does: a kustomization in a directory directly under
 * k8s/ (kustomize refuses absolute paths and files outside a root, but not directories).
 * The test files run in separate processes and each builds the same combinations, so results are
 * kept on disk under a fingerprint of every input file; callers get a fresh copy.
 */
export function buildCombination(combination: Combination): K8sObject[] {
  fingerprint ??= inputFingerprint(repoRoot);
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
