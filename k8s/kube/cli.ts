import path from 'node:path';
import { ensureBuilt, toolDir, toolNames } from './build.js';
import { kubectl, processStatus, readState, startControlPlane, stopControlPlane } from './control-plane.js';
import { startCluster, stopCluster } from './cluster.js';
import { contextName } from './versions.js';
import { repoRoot } from '@recipe-mesh/measure/repo';

const usage = `usage: npm run kube -- <command>   (make kube-build | kube-up | kube-status | kube-down)
  build    build every binary into the cache (${path.dirname(toolDir('kubernetes'))}) unless already there
  up       start etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (2 nodes) on
           127.0.0.1, apply Istio's CRDs, write .kube/${contextName}.kubeconfig (context ${contextName})
  status   each process, its pid and memory, and the nodes
  down     stop every process by its pid and remove the state and kubeconfig
  cluster-up     the control plane, a private lab as its data plane (each web-api and recipe-api pod a
                 lab instance), the platform by make deploy and the ingress gateway (make cluster-up)
  cluster-down   stop all of it by pid and remove its state (make cluster-down)`;

const stateDir = path.join(repoRoot, '.kube', contextName);
const kubeconfig = path.join(repoRoot, '.kube', `${contextName}.kubeconfig`);

const clusterDir = path.join(repoRoot, '.kube', 'recipe-mesh-cluster');

const mib = (bytes: number) => `${Math.round(bytes / (1 << 20))} MiB`;

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case 'build':
      await ensureBuilt(toolNames);
      return 0;
    case 'up': {
      const state = await startControlPlane({ stateDir, kubeconfig });
      const memory = processStatus(state).reduce((sum, p) => sum + (p.rssBytes ?? 0), 0);
      console.log(`kube: up at ${state.server} (${mib(memory)} RSS in ${state.processes.length} processes)`);
      console.log(`kube: kubectl --kubeconfig ${path.relative(process.cwd(), kubeconfig)} get nodes`);
      console.log(`kube: its kubectl: ${state.kubectl}`);
      return 0;
    }
    case 'status': {
      const state = readState(stateDir);
      if (!state) {
        console.log('kube: not running (make kube-up)');
        return 1;
      }
      const rows = processStatus(state);
      for (const p of rows)
        console.log(
          `${p.name.padEnd(24)} pid ${String(p.pid).padEnd(8)} ${p.running ? 'running' : 'STOPPED'}  ${p.rssBytes ? mib(p.rssBytes) : ''}  ${path.relative(process.cwd(), p.log)}`,
        );
      const total = rows.reduce((sum, p) => sum + (p.rssBytes ?? 0), 0);
      console.log(`total RSS ${mib(total)}; server ${state.server}; kubeconfig ${state.kubeconfig}`);
      if (rows.every((p) => p.running)) console.log(kubectl(state, ['get', 'nodes']).trimEnd());
      return rows.every((p) => p.running) ? 0 : 1;
    }
    case 'down':
      console.log((await stopControlPlane(stateDir)) ? 'kube: stopped' : 'kube: nothing was running');
      return 0;
    case 'cluster-up': {
      if (readState(stateDir))
        throw new Error("make kube-up's control plane runs (it shares the kubeconfig): make kube-down first");
      // Interrupted while starting: stop what was started (once up, the cluster outlives this CLI).
      const interrupted = async () => {
        console.error('cluster: interrupted; stopping what was started');
        await stopCluster(clusterDir);
        process.exit(130);
      };
      process.once('SIGINT', interrupted);
      process.once('SIGTERM', interrupted);
      const cluster = await startCluster({
        root: repoRoot,
        dir: clusterDir,
        kubeconfig,
        overlayDir: 'k8s/.generated-cluster',
        log: (line) => console.log(line),
      });
      console.log(
        `cluster: up; kubectl --kubeconfig ${path.relative(process.cwd(), kubeconfig)} -n recipe-mesh get pods`,
      );
      console.log(`cluster: its kubectl: ${cluster.state.kubectl}; the ingress gateway: ${cluster.state.ingressUrl}`);
      process.off('SIGINT', interrupted);
      process.off('SIGTERM', interrupted);
      return 0;
    }
    case 'cluster-down':
      console.log((await stopCluster(clusterDir)) ? 'cluster: stopped' : 'cluster: nothing was running');
      return 0;
    default:
      console.error(usage);
      return 2;
  }
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`kube: ${error.message}`);
    process.exit(1);
  },
);
