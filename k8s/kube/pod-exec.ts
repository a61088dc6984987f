import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { findBinary, installHint } from '@recipe-mesh/measure/binaries';

/**
 * `kubectl exec` on the cluster's satellite pods (docs/kubernetes.md, "A cluster whose pods are the
 * lab's processes"). kwok serves a pod's exec by running the command on this machine
 * (kwok.x-k8s.io/v1alpha1 `Exec`: `local.envs`, `local.workDir`); the command's name is looked up
 * in kwok's own PATH before the Exec's envs apply (kwok pkg/utils/exec/exec.go: Go's
 * exec.CommandContext resolves the name with the parent's PATH). So kwok runs with a directory
 * of wrappers first on its PATH, and each wrapper reaches the lab's process named by the pod's
 * Exec env: `redis-cli` in the redis pod talks to the cluster lab's Redis port, never the default
 * 6379 (`make up`'s Redis); run without that env (any other pod), it refuses.
 */

/** The Exec env that carries the cluster lab's Redis port to the `redis-cli` wrapper. */
export const redisPortEnv = 'RECIPE_MESH_REDIS_PORT';

/** The wrapper directory of a cluster (first on kwok's PATH). */
export const execWrapperDir = (dir: string) => path.join(dir, 'exec-bin');

/** The `redis-cli` wrapper: the real redis-cli, pinned to 127.0.0.1 and the port the Exec names. */
export function redisCliWrapper(redisCli: string): string {
  return [
    '#!/bin/sh',
    '# kubectl exec deploy/redis -- redis-cli … on the recipe-mesh cluster (k8s/kube/pod-exec.ts):',
    "# kwok runs it here; the redis pod's Exec names the lab's Redis port. Without it, refuse:",
    "# the default port is another lab's Redis.",
    `if [ -z "\${${redisPortEnv}}" ]; then`,
    `  echo "redis-cli: no ${redisPortEnv} (only the redis pod's exec reaches the cluster's Redis)" >&2`,
    '  exit 1',
    'fi',
    `exec ${redisCli} -h 127.0.0.1 -p "\${${redisPortEnv}}" "$@"`,
    '',
  ].join('\n');
}

/** Writes the wrappers into `execWrapperDir(dir)` and returns that directory. */
export function writeExecWrappers(dir: string): string {
  const redisCli = findBinary('redis-cli');
  if (!redisCli) throw new Error(`redis-cli not found (${installHint('redis-cli')}): the redis pod could not exec it`);
  const bin = execWrapperDir(dir);
  mkdirSync(bin, { recursive: true });
  const file = path.join(bin, 'redis-cli');
  writeFileSync(file, redisCliWrapper(redisCli));
  chmodSync(file, 0o755);
  return bin;
}

/** kwok's `Exec` named as the pod: every container's commands run here with `envs`. */
export function podExec(pod: { name: string; namespace: string }, envs: Record<string, string>): object {
  return {
    apiVersion: 'kwok.x-k8s.io/v1alpha1',
    kind: 'Exec',
    metadata: { name: pod.name, namespace: pod.namespace },
    spec: { execs: [{ local: { envs: Object.entries(envs).map(([name, value]) => ({ name, value })) } }] },
  };
}
