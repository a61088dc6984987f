import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { findBinary } from '@recipe-mesh/measure/binaries';

/**
 * `kubectl kustomize` for the lab (workloads/manifests.ts) and the k8s checks (k8s/test/lib/
 * kustomize.ts): one way to render the manifests, so both read the same objects.
 */

/** What a rendered manifest object looks like to its readers: only kind and metadata are certain. */
export interface RenderedObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: readers check the fields they use (manifests.ts with zod).
  spec?: any;
  [key: string]: unknown;
}

export class KustomizeMissingError extends Error {
  constructor() {
    super(
      'neither kubectl nor kustomize is on PATH: rendering k8s/overlays/minikube needs one of them ' +
        '(apt-get install kubectl, or go install sigs.k8s.io/kustomize/kustomize/v5@v5.5.0)',
    );
    this.name = 'KustomizeMissingError';
  }
}

/**
 * The kustomize to build with: kubectl's embedded one (kubectl ships on this project's machines),
 * else a standalone `kustomize`.
 */
export function kustomizeCommand(): [string, string[]] {
  const kubectl = findBinary('kubectl');
  if (kubectl) return [kubectl, ['kustomize']];
  const kustomize = findBinary('kustomize');
  if (kustomize) return [kustomize, ['build']];
  throw new KustomizeMissingError();
}

/** `kubectl kustomize <dir>` (offline), parsed. Throws with kustomize's message on failure. */
export function kustomizeBuild(dir: string, label = dir): RenderedObject[] {
  const [command, args] = kustomizeCommand();
  let out: string;
  try {
    out = execFileSync(command, [...args, dir], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 << 20,
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw new Error(`kubectl kustomize ${label} failed:\n${stderr}`);
  }
  return parseYamlDocuments(out) as RenderedObject[];
}

export function parseYamlDocuments(text: string): RenderedObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length) throw new Error(doc.errors.map((e) => e.message).join('\n'));
      return doc.toJS() as RenderedObject | null;
    })
    .filter((o): o is RenderedObject => o !== null && typeof o === 'object');
}

/** Everything the minikube overlay reads (its resources and components): a change is a new render. */
export const overlayInputs = ['k8s/base', 'k8s/components', 'k8s/overlays', 'istio', 'grafana'];

/** A hash of every file under `dirs` (relative to `root`): names and contents, dot files left out. */
export function inputFingerprint(root: string, dirs: string[] = overlayInputs): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir).sort()) {
      if (entry.startsWith('.') || entry === 'node_modules') continue;
      const full = path.join(dir, entry);
      if (statSync(full).isDirectory()) walk(full);
      else hash.update(path.relative(root, full)).update('\0').update(readFileSync(full)).update('\0');
    }
  };
  for (const dir of dirs) if (existsSync(path.join(root, dir))) walk(path.join(root, dir));
  return hash.digest('hex').slice(0, 16);
}
