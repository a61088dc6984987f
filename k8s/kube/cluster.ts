import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { meshNamespace } from '@recipe-mesh/measure/mesh-namespace';
import { stopLab } from '@recipe-mesh/lab/lab';
import { startLabOnFreePorts } from '@recipe-mesh/lab/private-lab';
import type { LabState } from '@recipe-mesh/lab/process/state';
import { kustomizeBuild } from '@recipe-mesh/lab/workloads/kustomize';
import { serviceNames } from '@recipe-mesh/lab/workloads/services';
import { waitFor } from '@recipe-mesh/measure/net';
import { childrenTiedToThisProcess } from '@recipe-mesh/measure/tie';
import { kubeApi } from './api-client.js';
import {
  type ControlPlaneState,
  isOurs,
  kubectl,
  readState as readControlPlane,
  spawnSupervised,
  startControlPlane,
  stopControlPlane,
} from './control-plane.js';
import { dataPlaneLogDir, runDataPlane } from './data-plane.js';
import { builtFile } from './build.js';
import { pointIngressGatewayAt } from './ingress-gateway.js';
import { writeExecWrappers } from './pod-exec.js';
import {
  generatedControlPlane,
  injectedDeployments,
  injectorFieldManager,
  injectorFiles,
  istioctlFor,
  meshRolloutStatus,
  withoutTemplateRewrites,
} from './istio-inject.js';

/**
 * `make cluster-up`: a cluster whose pods are the lab's processes (docs/kubernetes.md, "A cluster
 * rehearsal"). The local control plane (control-plane.ts) with kwok as the nodes' kubelet on
 * 127.0.0.1, a private lab on free ports (its Envoys, Redis, Prometheus; never `make up`'s), the
 * data plane (data-plane.ts) that runs a lab instance for each web-api and recipe-api pod, the
 * platform applied by `make deploy` itself, and an ingress gateway Service whose load-balancer
 * address is the lab ingress' loopback address (ingress-gateway.ts).
 */

export interface ClusterOptions {
  /** The repository root (make runs there; the lab renders its manifests from there). */
  root: string;
  /** Everything of this cluster lives here: the control plane's, the lab's and the data plane's state. */
  dir: string;
  kubeconfig: string;
  /** make's K8S_GENERATED for this cluster's deploy: a direct child of k8s/. */
  overlayDir: string;
  log?: (line: string) => void;
  /**
   * Run the data plane in this process (tests: it dies with them) instead of a process of its
   * own that outlives the CLI (`make cluster-up`).
   */
  inProcessDataPlane?: boolean;
}

export interface ClusterState {
  dir: string;
  kubeconfig: string;
  context: string;
  kubectl: string;
  lab: { root: string; stateDir: string };
  /** The data plane's process (null when it runs in the process that started the cluster). */
  dataPlane: { pid: number; script: string } | null;
  ingressUrl: string;
}

function need(tool: 'istio', file: string): string {
  const found = builtFile(tool, file);
  if (!found) throw new Error(`${tool} ${file} is not built: run \`make kube-build\``);
  return found;
}

export const clusterFile = (dir: string) => path.join(dir, 'cluster.json');
const controlPlaneDir = (dir: string) => path.join(dir, 'control-plane');
const labDir = (dir: string) => path.join(dir, 'lab');
const dataPlaneScript = path.join(path.dirname(new URL(import.meta.url).pathname), 'data-plane-main.ts');

export function readCluster(dir: string): ClusterState | null {
  return existsSync(clusterFile(dir)) ? (JSON.parse(readFileSync(clusterFile(dir), 'utf8')) as ClusterState) : null;
}

/** The kwok resources and Stages that make the lab the cluster's data plane. */
export const dataPlaneKubelet = {
  resources: [],
  crds: ['PortForward', 'Logs', 'Exec'],
  podsRunElsewhere: { key: 'app', values: serviceNames },
};

export interface RunningCluster {
  state: ClusterState;
  controlPlane: ControlPlaneState;
  lab: LabState;
  stop(): Promise<void>;
}

export async function startCluster(options: ClusterOptions): Promise<RunningCluster> {
  const print = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const began = Date.now();
  const log = (line: string) => print(`${line} (+${((Date.now() - began) / 1000).toFixed(1)} s)`);
  const dir = path.resolve(options.dir);
  if (readCluster(dir)) throw new Error(`a cluster already runs from ${dir} (stop it first: make cluster-down)`);
  mkdirSync(dir, { recursive: true });
  const abort = new AbortController();
  let dataPlanePid: number | null = null;
  const stop = async () => {
    abort.abort();
    await stopCluster(dir);
  };
  try {
    log('cluster: control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok)');
    const controlPlane = await startControlPlane({
      stateDir: controlPlaneDir(dir),
      kubeconfig: options.kubeconfig,
      kubelet: { ...dataPlaneKubelet, execPath: writeExecWrappers(dir) },
      log,
    });
    writeCluster(dir, {
      dir,
      kubeconfig: controlPlane.kubeconfig,
      context: controlPlane.context,
      kubectl: controlPlane.kubectl,
      lab: { root: options.root, stateDir: labDir(dir) },
      dataPlane: null,
      ingressUrl: '',
    });
    log('cluster: the lab on free ports (Envoys, Redis, Prometheus, two instances of each service)');
    const lab = await startLabOnFreePorts({
      root: options.root,
      stateDir: labDir(dir),
      // The cluster's Prometheus labels every pod's series with its namespace (PromQL filters on it).
      scrapeLabels: { namespace: meshNamespace },
      log,
    });
    const labOptions = { root: options.root, stateDir: labDir(dir) };
    const logDir = dataPlaneLogDir(dir);
    mkdirSync(logDir, { recursive: true });
    if (options.inProcessDataPlane) {
      void runDataPlane({
        api: kubeApi(controlPlane.kubeconfig),
        namespace: meshNamespace,
        lab: labOptions,
        logDir,
        log,
        signal: abort.signal,
      });
    } else {
      dataPlanePid =
        spawnSupervised(
          process.execPath,
          [
            '--conditions=source',
            '--import',
            'tsx',
            dataPlaneScript,
            '--kubeconfig',
            controlPlane.kubeconfig,
            '--lab-root',
            options.root,
            '--lab-state-dir',
            labDir(dir),
            '--log-dir',
            logDir,
            ...(childrenTiedToThisProcess() ? ['--tie-children'] : []),
          ],
          path.join(dir, 'data-plane.log'),
          options.root,
        ) ?? null;
    }
    const ingressUrl = `http://127.0.0.1:${lab.ports.ingress}`;
    writeCluster(dir, {
      dir,
      kubeconfig: controlPlane.kubeconfig,
      context: controlPlane.context,
      kubectl: controlPlane.kubectl,
      lab: labOptions,
      dataPlane: dataPlanePid ? { pid: dataPlanePid, script: dataPlaneScript } : null,
      ingressUrl,
    });
    const istioctl = istioctlFor(need('istio', 'istioctl'), controlPlane.kubeconfig, controlPlane.context);
    log("cluster: Istio's control-plane objects (istioctl manifest generate; no webhooks: nothing would answer them)");
    const istioObjects = generatedControlPlane(istioctl, options.root).filter(
      (o) =>
        !['CustomResourceDefinition', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'].includes(
          o.kind,
        ),
    );
    applyList(controlPlane, istioObjects, 'kubectl');
    log('cluster: make deploy (the platform, exactly as on minikube)');
    const deploy = spawnSync(
      'make',
      [
        '--no-print-directory',
        'deploy',
        `KUBECONFIG=${controlPlane.kubeconfig}`,
        `KUBE_CONTEXT=${controlPlane.context}`,
        `KUBECTL=${controlPlane.kubectl}`,
        `K8S_GENERATED=${options.overlayDir}`,
        'ROLLOUT_TIMEOUT=180s',
      ],
      { cwd: options.root, encoding: 'utf8', timeout: 300_000 },
    );
    if (deploy.status !== 0) throw new Error(`make deploy failed:\n${deploy.stdout}\n${deploy.stderr}`);
    log('cluster: sidecars injected as the webhook would (istioctl kube-inject), pods rolled');
    const injected = injectedDeployments(
      istioctl,
      withoutTemplateRewrites(injectorFiles(istioObjects, dir)),
      kustomizeBuild(path.join(options.root, options.overlayDir)),
    );
    applyList(controlPlane, injected, injectorFieldManager);
    kubectl(controlPlane, meshRolloutStatus('180s'));
    // The rollout is done before its old pods have stopped (preStop, drain): up means settled.
    await waitFor(
      () =>
        (
          JSON.parse(kubectl(controlPlane, ['-n', meshNamespace, 'get', 'pods', '-o', 'json'])) as {
            items: { metadata: { deletionTimestamp?: string } }[];
          }
        ).items.every((p) => !p.metadata.deletionTimestamp),
      { timeoutMs: 120_000, intervalMs: 500, what: 'the replaced pods to have stopped' },
    );
    log('cluster: the ingress gateway Service: the lab ingress its load-balancer address');
    await pointIngressGatewayAt(kubeApi(controlPlane.kubeconfig), lab.ports.ingress);
    return { state: readCluster(dir)!, controlPlane, lab: lab.state, stop };
  } catch (error) {
    const dataPlaneLog = path.join(dir, 'data-plane.log');
    const tail = existsSync(dataPlaneLog) ? readFileSync(dataPlaneLog, 'utf8').split('\n').slice(-25).join('\n') : '';
    await stop();
    throw tail ? new Error(`${(error as Error).message}\n--- the data plane's log ---\n${tail}`) : error;
  }
}

/** Objects applied as one List, server-side, as `fieldManager`. */
function applyList(controlPlane: ControlPlaneState, objects: object[], fieldManager: string): void {
  kubectl(
    controlPlane,
    ['apply', '--server-side', '--force-conflicts', `--field-manager=${fieldManager}`, '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
  );
}

function writeCluster(dir: string, state: ClusterState): void {
  writeFileSync(clusterFile(dir), JSON.stringify(state, null, 2));
}

/** Stops the data plane, the lab and the control plane, by pid, and removes the cluster's state. */
export async function stopCluster(dir: string): Promise<boolean> {
  const state = readCluster(dir);
  const dataPlane = state?.dataPlane;
  if (dataPlane && dataPlaneRuns(dataPlane)) {
    process.kill(dataPlane.pid, 'SIGTERM');
    await waitFor(() => !dataPlaneRuns(dataPlane), {
      timeoutMs: 10_000,
      intervalMs: 100,
      what: 'the data plane to exit',
    }).catch(() => {
      if (dataPlaneRuns(dataPlane)) process.kill(dataPlane.pid, 'SIGKILL');
    });
  }
  await stopLab({ root: state?.lab.root, stateDir: labDir(dir), graceMs: 5000 });
  const hadControlPlane = await stopControlPlane(controlPlaneDir(dir));
  rmSync(dir, { recursive: true, force: true });
  return Boolean(state) || hadControlPlane;
}

function dataPlaneRuns(dataPlane: { pid: number; script: string }): boolean {
  try {
    // node (or setpriv before it execs node) with the script among its arguments.
    return readFileSync(`/proc/${dataPlane.pid}/cmdline`, 'utf8').split('\0').includes(dataPlane.script);
  } catch {
    return false;
  }
}

/** Every process the cluster runs now: the control plane's, the lab's and the data plane. */
export function clusterPids(dir: string): number[] {
  const state = readCluster(dir);
  const controlPlane = readControlPlane(controlPlaneDir(dir));
  const lab = JSON.parse(readFileSync(path.join(labDir(dir), 'state.json'), 'utf8')) as LabState;
  return [
    ...(controlPlane?.processes.filter(isOurs).map((p) => p.pid) ?? []),
    ...lab.processes.map((p) => p.pid),
    ...(state?.dataPlane && dataPlaneRuns(state.dataPlane) ? [state.dataPlane.pid] : []),
  ];
}

export { kubectl };
