import { spawn } from 'node:child_process';

/**
 * One `kubectl port-forward pod/<name> :<port>` on 127.0.0.1 with a local port the kernel picks:
 * every pod of a Deployment gets its own forward (a forward to `deploy/<name>` reaches one pod
 * only), and no fixed local port can collide with another run or the lab. kubectl prints
 * "Forwarding from 127.0.0.1:<local> -> <remote>" once it listens (kubectl's
 * staging/src/k8s.io/client-go/tools/portforward/portforward.go), which is read, not waited for.
 */

export interface PodForward {
  pod: string;
  /** `http://127.0.0.1:<local port>` */
  url: string;
  stop(): void;
}

const forwarding = /Forwarding from 127\.0\.0\.1:(\d+) ->/;

/** The local port of kubectl's "Forwarding from …" line, or null when the text has none yet. */
export function forwardedPort(stdout: string): number | null {
  const match = forwarding.exec(stdout);
  return match ? Number(match[1]) : null;
}

/**
 * Starts the forward; `kubectl` is the command prefix pinned to the cluster (binary, --kubeconfig,
 * --context) and `namespace` the pod's. Rejects with kubectl's message when it exits or does not
 * listen within `timeoutMs`.
 */
export function forwardPod(
  kubectl: string[],
  namespace: string,
  pod: string,
  port: string,
  timeoutMs = 20_000,
): Promise<PodForward> {
  const child = spawn(
    kubectl[0]!,
    [...kubectl.slice(1), '-n', namespace, 'port-forward', '--address', '127.0.0.1', `pod/${pod}`, `:${port}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGTERM');
      reject(new Error(`kubectl port-forward pod/${pod} :${port}: ${why}${err ? `: ${err.trim()}` : ''}`));
    };
    const timer = setTimeout(() => fail(`not listening after ${timeoutMs} ms`), timeoutMs);
    child.stdout.on('data', (d) => {
      out += d;
      const local = forwardedPort(out);
      if (local === null) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve({ pod, url: `http://127.0.0.1:${local}`, stop: () => child.kill('SIGTERM') });
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('error', (error) => fail(error.message));
    child.on('exit', (code) => fail(`exited ${code}`));
  });
}
