import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { builtFile, isBuilt, type ToolName } from '../../kube/build.js';
import {
  type ControlPlaneState,
  kubectl,
  processStatus,
  startControlPlane,
  stopControlPlane,
} from '../../kube/control-plane.js';
import { repoRoot } from './repo.js';

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

export async function startTestControlPlane(options: { nodes?: number } = {}): Promise<TestControlPlane> {
  const dir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-kube-'));
  const stateDir = path.join(dir, 'state');
  const state = await startControlPlane({
    stateDir,
    kubeconfig: path.join(dir, 'kubeconfig'),
    nodes: options.nodes,
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
