import { readFileSync } from 'node:fs';
import { allContainers, describe, isServiceImage, workloads, type K8sObject } from './objects.js';
import { repoPath } from './repo.js';

/**
 * Pinned tags: every image names an explicit version (not `latest`, not none), so the same
 * manifests run the same software tomorrow. A digest pins too.
 */
export function imageTagProblem(image: string): string | null {
  if (image.includes('@sha256:')) return null;
  const lastSegment = image.split('/').pop()!;
  const tag = lastSegment.includes(':') ? lastSegment.split(':').pop()! : '';
  if (!tag) return `${image} has no tag`;
  if (tag === 'latest' || /^(stable|main|master|edge|nightly|dev)$/.test(tag))
    return `${image} uses the moving tag ${tag}`;
  if (!/\d/.test(tag)) return `${image} has tag ${tag}, which names no version`;
  return null;
}

export function pinnedImageProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const w of workloads(objects)) {
    for (const c of allContainers(w.pod)) {
      const problem = imageTagProblem(c.image);
      if (problem) problems.push(`${describe(w.object)} container ${c.name}: ${problem}`);
    }
  }
  return problems;
}

/** The variables of make/k8s.mk (`NAME := value` / `NAME ?= value`), for pins and image tags. */
export function makeVariables(text = readFileSync(repoPath('make/k8s.mk'), 'utf8')): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const m of text.matchAll(/^([A-Z0-9_]+)\s*[:?]?=\s*(.*)$/gm)) vars[m[1]!] = m[2]!.trim();
  return vars;
}

export function versionPinProblems(vars: Record<string, string>): string[] {
  const problems: string[] = [];
  if (!/^\d+\.\d+\.\d+$/.test(vars.ISTIO_VERSION ?? ''))
    problems.push(`make/k8s.mk: ISTIO_VERSION "${vars.ISTIO_VERSION ?? ''}" is not a pinned x.y.z`);
  if (!/^v\d+\.\d+\.\d+$/.test(vars.MINIKUBE_K8S_VERSION ?? ''))
    problems.push(`make/k8s.mk: MINIKUBE_K8S_VERSION "${vars.MINIKUBE_K8S_VERSION ?? ''}" is not a pinned vX.Y.Z`);
  return problems;
}

/**
 * The images the Deployments run are the ones `make images` builds: recipe-mesh/<svc>:IMAGE_TAG
 * for svc in K8S_IMAGES, each a target of the Dockerfile, and the names docs/contracts.md gives.
 */
export function serviceImageProblems(
  objects: K8sObject[],
  vars: Record<string, string>,
  dockerfile: string,
  contractImages: string[],
): string[] {
  const problems: string[] = [];
  const built = (vars.K8S_IMAGES ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map((svc) => `recipe-mesh/${svc}:${vars.IMAGE_TAG}`);
  const targets = new Set([...dockerfile.matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((m) => m[1]!));
  for (const svc of (vars.K8S_IMAGES ?? '').split(/\s+/).filter(Boolean)) {
    if (!targets.has(svc)) problems.push(`Dockerfile: no target ${svc}, which make images builds`);
  }
  const used = new Set<string>();
  for (const w of workloads(objects)) {
    for (const c of w.pod.containers.filter((c) => isServiceImage(c.image))) {
      used.add(c.image);
      if (!built.includes(c.image))
        problems.push(
          `${describe(w.object)} container ${c.name}: runs ${c.image}, but make images builds ${built.join(', ')}`,
        );
      if (c.image && !contractImages.includes(c.image.split(':')[0]!))
        problems.push(`${describe(w.object)}: image ${c.image} is not named in docs/contracts.md`);
      if (c.imagePullPolicy !== 'IfNotPresent' && c.imagePullPolicy !== 'Never') {
        problems.push(
          `${describe(w.object)} container ${c.name}: imagePullPolicy must be IfNotPresent or Never (the image exists only in minikube)`,
        );
      }
    }
  }
  for (const image of built)
    if (!used.has(image)) problems.push(`make images builds ${image}, which no Deployment runs`);
  return problems;
}

/**
 * Dockerfile rules (docs/kubernetes.md): pinned Node LTS base, `npm ci --omit=dev`, numeric non-root USER,
 * Node as PID 1 with the telemetry flag (exec-form ENTRYPOINT, no npm start), nothing
 * architecture-specific.
 */
export function dockerfileProblems(text: string, services: string[]): string[] {
  const problems: string[] = [];
  const args = new Map([...text.matchAll(/^ARG\s+([A-Z_]+)=(\S+)/gm)].map((m) => [m[1]!, m[2]!]));
  for (const m of text.matchAll(/^FROM\s+(?:--platform=\S+\s+)?(\S+)/gm)) {
    const ref = m[1]!.replace(/^\$\{?([A-Z_]+)\}?$/, (_, name: string) => args.get(name) ?? `\${${name}}`);
    if (/^[a-z0-9-]+$/.test(ref)) continue; // an earlier stage
    const problem = ref.includes('${') ? `FROM ${ref} has no default` : imageTagProblem(ref);
    if (problem) problems.push(`Dockerfile: ${problem}`);
  }
  const node = args.get('NODE_IMAGE') ?? '';
  if (!/^node:\d+\.\d+\.\d+-[a-z]+-slim$/.test(node))
    problems.push(`Dockerfile: NODE_IMAGE ${node} is not a pinned node:x.y.z-<debian>-slim image`);
  if (/--platform|amd64|arm64|x86_64|aarch64/.test(text.replace(/^#.*$/gm, '')))
    problems.push('Dockerfile: names an architecture');
  if (/npm (run )?start/.test(text.replace(/^#.*$/gm, '')))
    problems.push('Dockerfile: uses npm start (Node must be PID 1)');
  if (!/npm ci --omit=dev/.test(text)) problems.push('Dockerfile: no npm ci --omit=dev');
  for (const svc of services) {
    const stage = new RegExp(`^FROM\\s+\\S+\\s+AS\\s+${svc}\\s*$([\\s\\S]*?)(?=^FROM\\s|(?![\\s\\S]))`, 'm').exec(text);
    if (!stage) {
      problems.push(`Dockerfile: no stage ${svc}`);
      continue;
    }
    const entry = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(stage[1]!);
    const expected = ['node', '--import', '@recipe-mesh/platform/telemetry', `services/${svc}/dist/main.js`];
    let argv: unknown = null;
    try {
      argv = entry ? JSON.parse(entry[1]!) : null;
    } catch {
      /* reported below */
    }
    if (JSON.stringify(argv) !== JSON.stringify(expected))
      problems.push(`Dockerfile ${svc}: ENTRYPOINT must be exec form ${JSON.stringify(expected)}`);
    if (/^CMD\s/m.test(stage[1]!)) problems.push(`Dockerfile ${svc}: CMD would add arguments to node`);
  }
  const users = [...text.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]!);
  const lastUser = users.at(-1);
  if (!lastUser || !/^[1-9]\d*(:\d+)?$/.test(lastUser))
    problems.push(
      `Dockerfile: last USER ${lastUser ?? '(none)'} is not a numeric non-root user (Kubernetes runAsNonRoot needs a number)`,
    );
  return problems;
}

/**
 * .dockerignore keeps local installs and builds out of the context: the last word on
 * node_modules and dist, after any wildcard re-include (`!services/**`), is an exclusion.
 */
export function dockerignoreProblems(text: string): string[] {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const problems: string[] = [];
  for (const dir of ['node_modules', 'dist']) {
    const exclusion = new RegExp(`^(\\*\\*/)?${dir}/?$`);
    const lastExclusion = lines.findLastIndex((l) => exclusion.test(l));
    const lastReinclude = lines.findLastIndex((l) => l.startsWith('!') && (l.includes('**') || l.includes(dir)));
    if (lastExclusion === -1 || lastExclusion < lastReinclude)
      problems.push(`.dockerignore: ${dir} may reach the build context`);
  }
  return problems;
}
