import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { builtFile, isBuilt, type ToolName } from '../../kube/build.js';
import {
  type ControlPlaneOptions,
  type ControlPlaneState,
  kubectl,
  processStatus,
  startControlPlane,
  stopControlPlane,
} from '../../kube/control-plane.js';
import {
  generatedControlPlane,
  type InjectorFiles,
  type Istioctl,
  injectedDeployments,
  injectorFieldManager,
  injectorFiles,
  istioctlFor,
  meshRolloutStatus,
} from '../../kube/istio-inject.js';
import { buildDefault } from './kustomize.js';
import type { K8sObject } from './objects.js';
import { repoPath, repoRoot } from './repo.js';

/**
 * One private control plane for a test file (k8s/kube, docs/kubernetes.md): its own state
 * directory and kubeconfig under the system temp dir, so it never touches `make kube-up`'s, and
 * stopped by pid when the file ends. Reusable by any test that needs a real API server:
 *
 *   const cluster = await startTestControlPlane();   // in before()
 *   cluster.kubectl(['get', 'nodes']);               // or cluster.kubeconfig / cluster.context
 *   await cluster.stop();                            // in after()
 */
export interface TestControlPlane {
  state: ControlPlaneState;
  kubeconfig: string;
  context: string;
  /** The pinned kubectl (a distro kubectl may be outside the version skew). */
  kubectlPath: string;
  kubectl(args: string[], input?: string): string;
  /** kubectl without throwing: status, stdout and stderr (warnings arrive on stderr). */
  kubectlResult(args: string[], input?: string): MakeResult;
  /** Resident memory of the control plane's processes together. */
  rssBytes(): number;
  stop(): Promise<void>;
}

const needed: ToolName[] = ['kubernetes', 'etcd', 'kwok', 'istio'];

/**
 * Null when the binaries are built; else a one-line skip reason, or a thrown error under CI=true
 * (.ci/run builds them first).
 */
export function controlPlaneSkipReason(tools: ToolName[] = needed): string | null {
  const missing = tools.filter((t) => !isBuilt(t));
  if (missing.length === 0) return null;
  const reason = `control-plane binaries not built (${missing.join(', ')}): run make kube-build`;
  if (process.env.CI === 'true') throw new Error(`CI=true but ${reason}`);
  return reason;
}

export async function startTestControlPlane(
  options: { nodes?: number; kubelet?: ControlPlaneOptions['kubelet'] } = {},
): Promise<TestControlPlane> {
  const dir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-kube-'));
  const stateDir = path.join(dir, 'state');
  const state = await startControlPlane({
    stateDir,
    kubeconfig: path.join(dir, 'kubeconfig'),
    nodes: options.nodes,
    ...(options.kubelet ? { kubelet: options.kubelet } : {}),
    log: () => {},
  });
  return {
    state,
    kubeconfig: state.kubeconfig,
    context: state.context,
    kubectlPath: state.kubectl,
    kubectl: (args, input) => kubectl(state, args, input),
    kubectlResult(args, input) {
      const result = spawnSync(state.kubectl, ['--kubeconfig', state.kubeconfig, '--context', state.context, ...args], {
        encoding: 'utf8',
        input,
        maxBuffer: 64 << 20,
      });
      return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    },
    rssBytes: () => processStatus(state).reduce((sum, p) => sum + (p.rssBytes ?? 0), 0),
    async stop() {
      await stopControlPlane(stateDir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface MakeResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `make <target>` of the root Makefile, unchanged, pointed at this control plane by variables only. */
export function makeAgainst(cluster: TestControlPlane, target: string, variables: Record<string, string> = {}) {
  const result = spawnSync(
    'make',
    [
      '--no-print-directory',
      target,
      `KUBECONFIG=${cluster.kubeconfig}`,
      `KUBE_CONTEXT=${cluster.context}`,
      `KUBECTL=${cluster.kubectlPath}`,
      'ROLLOUT_TIMEOUT=120s',
      ...Object.entries(variables).map(([k, v]) => `${k}=${v}`),
    ],
    { cwd: repoRoot, encoding: 'utf8', timeout: 300_000 },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr } satisfies MakeResult;
}

/** A built file of the pinned tools (istioctl, kube-score, …), or null. */
export { builtFile };

/**
 * A control plane with the platform on it, as the live tests share it (one per test file): a
 * private control plane, an overlay directory of its own under k8s/ (make's K8S_GENERATED must be
 * a direct child of k8s/), and `make deploy` run unchanged against it. With `istio`, Istio's
 * control-plane objects from `istioctl manifest generate` of istio/install/istio-operator.yaml
 * are applied first (no webhooks: nothing would answer them) and the mesh workloads are
 * re-applied as `istioctl kube-inject` renders them, which is what the injection webhook does on
 * minikube. With `deploy: false` nothing is deployed (for tests that deploy combinations).
 */
export interface TestPlatform {
  cluster: TestControlPlane;
  /** The overlay directory relative to the repository root, for make's K8S_GENERATED. */
  overlayDir: string;
  /** A scratch directory (absolute) removed with the platform. */
  workDir: string;
  /** The pinned istioctl against this cluster (never its localhost:8080 fallback). */
  istioctl(args: string[], input?: string): MakeResult;
  stop(): Promise<void>;
}

export async function deployedPlatform(
  options: { deploy?: boolean; istio?: boolean; kubelet?: ControlPlaneOptions['kubelet'] } = {},
): Promise<TestPlatform> {
  const workDir = mkdtempSync(repoPath('k8s/.test-live-'));
  const cluster = await startTestControlPlane(options.kubelet ? { kubelet: options.kubelet } : {});
  const istioctlPath = builtFile('istio', 'istioctl');
  const platform: TestPlatform = {
    cluster,
    overlayDir: path.relative(repoRoot, workDir),
    workDir,
    istioctl(args, input) {
      assert.ok(istioctlPath, 'istioctl not built: run make kube-build');
      return istioctlFor(istioctlPath, cluster.kubeconfig, cluster.context)(args, input);
    },
    async stop() {
      await cluster.stop();
      rmSync(workDir, { recursive: true, force: true });
    },
  };
  try {
    const injector = options.istio ? applyIstioControlPlane(platform) : null;
    if (options.deploy !== false) {
      const run = makeAgainst(cluster, 'deploy', { K8S_GENERATED: platform.overlayDir });
      assert.equal(run.status, 0, `make deploy failed:\n${run.stdout}\n${run.stderr}`);
    }
    if (injector && options.deploy !== false) {
      injectSidecars(platform, injector);
      cluster.kubectl(meshRolloutStatus('120s'));
    }
  } catch (error) {
    await platform.stop();
    throw error;
  }
  return platform;
}

/** Applies objects as one List, server-side; by default as kubectl's field manager, the one `make deploy` uses. */
export function applyObjects(cluster: TestControlPlane, objects: K8sObject[], fieldManager = 'kubectl'): string {
  return cluster.kubectl(
    ['apply', '--server-side', '--force-conflicts', `--field-manager=${fieldManager}`, '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
  );
}

/** Istio's control-plane objects without CRDs (the control plane has them) and webhooks; returns kube-inject's files. */
function applyIstioControlPlane(platform: TestPlatform): InjectorFiles {
  const istioctl: Istioctl = (args, input) => platform.istioctl(args, input);
  const controlPlane = generatedControlPlane(istioctl, repoRoot).filter(
    (o) =>
      !['CustomResourceDefinition', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'].includes(o.kind),
  ) as K8sObject[];
  applyObjects(platform.cluster, controlPlane);
  return injectorFiles(controlPlane, platform.workDir);
}

/** What the injection webhook would do on minikube, done by istioctl for the same Deployments. */
function injectSidecars(platform: TestPlatform, files: InjectorFiles): void {
  const injected = injectedDeployments((args, input) => platform.istioctl(args, input), files, buildDefault());
  applyObjects(platform.cluster, injected as K8sObject[], injectorFieldManager);
}

export interface AnalyzerMessage {
  code: string;
  level: string;
  message: string;
  origin?: string;
}

/** `istioctl analyze` of the whole live cluster, plus `files` as if applied; the messages it reports. */
export function istioAnalyze(platform: TestPlatform, files: string[] = []): AnalyzerMessage[] {
  const run = platform.istioctl(['analyze', '--all-namespaces', '--output', 'json', ...files]);
  // Exit 0: no message at the failure threshold (Error); 79: an analyzer reported one.
  assert.ok(run.status === 0 || run.status === 79, `istioctl analyze failed (${run.status}):\n${run.stderr}`);
  const out = run.stdout.trim();
  return out ? (JSON.parse(out) as AnalyzerMessage[]) : [];
}
