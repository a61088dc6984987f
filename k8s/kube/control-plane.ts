import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { request } from 'node:https';
import path from 'node:path';
import { freePort, waitFor } from '@recipe-mesh/measure/net';
import { cmdlineRuns, supervisedCommand } from '@recipe-mesh/measure/tie';
import { stringify } from 'yaml';
import { builtFile, ensureBuilt, moduleDir, type ToolName } from './build.js';
import { writePodStagesExcept } from './kwok-stages.js';
import { type Certificates, type ClientName, generateCertificates } from './certs.js';
import { contextName, pins } from './versions.js';

/**
 * A real Kubernetes control plane without containers (docs/kubernetes.md): etcd, kube-apiserver,
 * kube-controller-manager and kube-scheduler of the pinned version, and kwok, which plays the
 * kubelets of fake nodes and marks their pods Running and Ready. Everything binds 127.0.0.1 on
 * free ports; every process is tracked by pid in `<stateDir>/state.json` and stopped by that pid.
 */

export interface ControlPlaneOptions {
  /** Certificates, etcd's data, logs and state.json live here (removed by stop). */
  stateDir: string;
  /** The one kubeconfig written, with the single context `recipe-mesh-test`. */
  kubeconfig: string;
  /** Fake nodes, each sized like `make minikube-up`'s node (4 CPUs, 8 GiB). */
  nodes?: number;
  /** Apply Istio's CRDs and its control-plane objects (no webhooks); default true. */
  istio?: boolean;
  /**
   * kwok as its nodes' kubelet on 127.0.0.1 (`--node-ip`, `--node-port`, TLS with the API server's
   * certificate, which is valid for 127.0.0.1), so `kubectl port-forward` and `kubectl logs` of a
   * pod reach what these kwok resources name (kwok.x-k8s.io/v1alpha1 ClusterPortForward: a pod
   * port → a local address; ClusterLogs: a container → a local file in the CRI log format). The
   * API server then dials only 127.0.0.1, never a pod IP. Without it, nodes keep no address and
   * kubelet port 0: nothing can reach their pods.
   */
  kubelet?: {
    resources: object[];
    /**
     * kwok kinds read from the API server rather than the config file (`--enable-crds`), so a
     * data plane can add a `PortForward` or `Logs` per pod while kwok runs; their CRDs (from the
     * kwok module, kustomize/crd/bases) are applied first.
     */
    crds?: string[];
    /** Pods with this label (one of the values) get no kwok Stage: a data plane runs them (kwok-stages.ts). */
    podsRunElsewhere?: { key: string; values: readonly string[] };
    /**
     * A directory put first on kwok's PATH: an `Exec`'s command is looked up there, before the
     * Exec's own envs apply (pod-exec.ts), so its wrappers stand in for the containers' binaries.
     */
    execPath?: string;
  };
  log?: (line: string) => void;
}

export interface TrackedProcess {
  name: string;
  pid: number;
  binary: string;
  log: string;
}

export interface ControlPlaneState {
  stateDir: string;
  kubeconfig: string;
  context: string;
  server: string;
  kubectl: string;
  processes: TrackedProcess[];
}

export const nodeCapacity = { cpu: '4', memory: '8Gi', pods: '110' } as const;
export const serviceClusterIpRange = '10.96.0.0/16';

const stateFile = (stateDir: string) => path.join(stateDir, 'state.json');

export function readState(stateDir: string): ControlPlaneState | null {
  const file = stateFile(stateDir);
  if (!existsSync(file)) return null;
  return JSON.parse(readFileSync(file, 'utf8')) as ControlPlaneState;
}

function need(tool: ToolName, file: string): string {
  const found = builtFile(tool, file);
  if (!found) throw new Error(`${tool} ${file} is not built: run \`make kube-build\``);
  return found;
}

function writeKubeconfig(file: string, server: string, certs: Certificates, user: ClientName): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: contextName, cluster: { server, 'certificate-authority': certs.ca } }],
    users: [
      {
        name: `${contextName}-${user}`,
        user: { 'client-certificate': certs.clients[user].cert, 'client-key': certs.clients[user].key },
      },
    ],
    contexts: [{ name: contextName, context: { cluster: contextName, user: `${contextName}-${user}` } }],
    'current-context': contextName,
  };
  writeFileSync(file, stringify(config), { mode: 0o600 });
}

/** True while `pid` runs the binary it was started from (a reused pid is not ours). */
export function isOurs(process_: TrackedProcess): boolean {
  try {
    return cmdlineRuns(readFileSync(`/proc/${process_.pid}/cmdline`, 'utf8'), process_.binary);
  } catch {
    return false;
  }
}

function logTail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Starts a process in its own process group, output appended to `log`: a Ctrl-C of `make kube-up`
 * or `make cluster-up` does not stop the cluster it started. A test's processes die with the test
 * process; the CLI's outlive it (measure/src/tie.ts). Returns its pid.
 */
export function spawnSupervised(
  command: string,
  args: string[],
  log: string,
  cwd: string,
  env?: NodeJS.ProcessEnv,
): number | undefined {
  const fd = openSync(log, 'a');
  const supervised = supervisedCommand(command, args);
  const child = spawn(supervised.command, supervised.args, { detached: true, stdio: ['ignore', fd, fd], cwd, env });
  closeSync(fd);
  child.unref();
  return child.pid;
}

function startProcess(
  state: ControlPlaneState,
  name: string,
  binary: string,
  args: string[],
  env?: NodeJS.ProcessEnv,
): TrackedProcess {
  const log = path.join(state.stateDir, 'logs', `${name}.log`);
  const pid = spawnSupervised(binary, args, log, state.stateDir, env);
  if (pid === undefined) throw new Error(`${name} did not start: ${logTail(log)}`);
  const tracked = { name, pid, binary, log };
  state.processes.push(tracked);
  writeFileSync(stateFile(state.stateDir), JSON.stringify(state, null, 2));
  return tracked;
}

/** Polls `check`, failing early with the log when the process died. */
function waitForProcess<T>(tracked: TrackedProcess, what: string, check: () => Promise<T | false>, timeoutMs = 60_000) {
  return waitFor(
    async () => {
      if (!isOurs(tracked)) throw new Error(`${tracked.name} exited:\n${logTail(tracked.log)}`);
      return check();
    },
    { timeoutMs, intervalMs: 200, what },
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n--- ${tracked.log} ---\n${logTail(tracked.log)}`);
  });
}

function httpsGet(url: string, certs: Certificates): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        ca: readFileSync(certs.ca),
        cert: readFileSync(certs.clients.admin.cert),
        key: readFileSync(certs.clients.admin.key),
        timeout: 2000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** kubectl of the pinned version, always with this control plane's kubeconfig and context. */
export function kubectl(
  state: Pick<ControlPlaneState, 'kubectl' | 'kubeconfig' | 'context'>,
  args: string[],
  input?: string,
): string {
  try {
    return execFileSync(state.kubectl, ['--kubeconfig', state.kubeconfig, '--context', state.context, ...args], {
      encoding: 'utf8',
      input,
      stdio: ['pipe', 'pipe', 'pipe'],
      maxBuffer: 64 << 20,
    });
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; status?: number };
    throw new Error(`kubectl ${args.join(' ')} failed (exit ${e.status}):\n${e.stderr ?? ''}${e.stdout ?? ''}`);
  }
}

export function nodeManifests(count: number): string {
  return Array.from({ length: count }, (_, i) => {
    const name = `kwok-node-${i}`;
    return stringify({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        // kwok manages only nodes with this annotation (--manage-nodes-with-annotation-selector).
        annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        labels: {
          'kubernetes.io/hostname': name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          type: 'kwok',
        },
      },
      status: {
        capacity: nodeCapacity,
        allocatable: nodeCapacity,
        nodeInfo: { kubeletVersion: 'fake', architecture: 'amd64', operatingSystem: 'linux' },
      },
    });
  }).join('---\n');
}

/**
 * Starts the control plane and waits until its nodes are Ready (and Istio's CRDs established).
 * On failure, what was started is stopped again before the error is thrown.
 */
export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlaneState> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const existing = readState(options.stateDir);
  if (existing?.processes.some(isOurs))
    throw new Error(`a control plane already runs from ${options.stateDir} (stop it first: make kube-down)`);
  rmSync(options.stateDir, { recursive: true, force: true });
  await ensureBuilt(
    options.istio === false ? ['kubernetes', 'etcd', 'kwok'] : ['kubernetes', 'etcd', 'kwok', 'istio'],
    log,
  );
  const stateDir = path.resolve(options.stateDir);
  for (const sub of ['certs', 'logs', 'etcd']) mkdirSync(path.join(stateDir, sub), { recursive: true });
  const certs = generateCertificates(path.join(stateDir, 'certs'));
  const [etcdClient, etcdPeer, apiPort, kwokPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const server = `https://127.0.0.1:${apiPort}`;
  const kubeconfig = path.resolve(options.kubeconfig);
  const state: ControlPlaneState = {
    stateDir,
    kubeconfig,
    context: contextName,
    server,
    kubectl: need('kubernetes', 'kubectl'),
    processes: [],
  };
  writeFileSync(stateFile(stateDir), JSON.stringify(state, null, 2));
  try {
    writeKubeconfig(kubeconfig, server, certs, 'admin');
    const componentConfig = (user: ClientName) => {
      const file = path.join(stateDir, 'certs', `${user}.kubeconfig`);
      writeKubeconfig(file, server, certs, user);
      return file;
    };

    const etcd = startProcess(state, 'etcd', need('etcd', 'etcd'), [
      '--name=recipe-mesh-test',
      `--data-dir=${path.join(stateDir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=recipe-mesh-test=http://127.0.0.1:${etcdPeer}`,
      '--log-level=warn',
      // Tests recreate everything per run: fsync per write would only slow them down.
      '--unsafe-no-fsync',
    ]);
    await waitForProcess(etcd, 'etcd /health', async () => {
      const res = await fetch(`http://127.0.0.1:${etcdClient}/health`);
      return res.ok && ((await res.json()) as { health?: string }).health === 'true';
    });

    const apiserver = startProcess(state, 'kube-apiserver', need('kubernetes', 'kube-apiserver'), [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${path.join(stateDir, 'certs')}`,
      `--tls-cert-file=${certs.serverCert}`,
      `--tls-private-key-file=${certs.serverKey}`,
      `--client-ca-file=${certs.ca}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${certs.serviceAccountPublicKey}`,
      `--service-account-signing-key-file=${certs.serviceAccountKey}`,
      `--service-cluster-ip-range=${serviceClusterIpRange}`,
      '--authorization-mode=Node,RBAC',
      // No kubelet runs on 127.0.0.1: the `kubernetes` Service endpoints would point nowhere.
      '--endpoint-reconciler-type=none',
      '--profiling=false',
    ]);
    await waitForProcess(apiserver, 'kube-apiserver /readyz', async () => {
      const res = await httpsGet(`${server}/readyz`, certs);
      return res.status === 200 && res.body.trim() === 'ok';
    });

    startProcess(state, 'kube-controller-manager', need('kubernetes', 'kube-controller-manager'), [
      `--kubeconfig=${componentConfig('kube-controller-manager')}`,
      '--bind-address=127.0.0.1',
      '--secure-port=0',
      '--leader-elect=false',
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${certs.serviceAccountKey}`,
      `--root-ca-file=${certs.ca}`,
      `--cluster-signing-cert-file=${certs.ca}`,
      `--cluster-signing-key-file=${certs.caKey}`,
      `--service-cluster-ip-range=${serviceClusterIpRange}`,
      '--profiling=false',
    ]);
    startProcess(state, 'kube-scheduler', need('kubernetes', 'kube-scheduler'), [
      `--kubeconfig=${componentConfig('kube-scheduler')}`,
      `--authentication-kubeconfig=${componentConfig('kube-scheduler')}`,
      `--authorization-kubeconfig=${componentConfig('kube-scheduler')}`,
      '--bind-address=127.0.0.1',
      '--secure-port=0',
      '--leader-elect=false',
      '--profiling=false',
    ]);
    if (options.kubelet?.crds?.length) await applyKwokCrds(state, options.kubelet.crds);
    const podStages = options.kubelet?.podsRunElsewhere
      ? writePodStagesExcept(
          need('kwok', 'stages/pod-fast.yaml'),
          path.join(stateDir, 'kwok-pod-stages.yaml'),
          options.kubelet.podsRunElsewhere,
        )
      : need('kwok', 'stages/pod-fast.yaml');
    const kwok = startProcess(
      state,
      'kwok',
      need('kwok', 'kwok'),
      [
        `--kubeconfig=${kubeconfig}`,
        '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
        `--server-address=127.0.0.1:${kwokPort}`,
        // Without leases of this length the node-lifecycle controller marks kwok's nodes NotReady
        // (docs/kubernetes.md).
        '--node-lease-duration-seconds=40',
        ...['node-fast', 'node-heartbeat-with-lease'].map((s) => `--config=${need('kwok', `stages/${s}.yaml`)}`),
        `--config=${podStages}`,
        ...(options.kubelet?.crds?.length ? [`--enable-crds=${options.kubelet.crds.join(',')}`] : []),
        ...(options.kubelet ? kubeletArgs(stateDir, kwokPort, certs, options.kubelet.resources) : []),
      ],
      options.kubelet?.execPath
        ? { ...process.env, PATH: [options.kubelet.execPath, process.env.PATH].filter(Boolean).join(path.delimiter) }
        : undefined,
    );

    kubectl(state, ['apply', '--server-side', '-f', '-'], nodeManifests(options.nodes ?? 2));
    await waitForProcess(kwok, 'every node Ready', async () => {
      const nodes = JSON.parse(kubectl(state, ['get', 'nodes', '-o', 'json'])) as {
        items: { status?: { conditions?: { type: string; status: string }[] } }[];
      };
      return (
        nodes.items.length === (options.nodes ?? 2) &&
        nodes.items.every((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
      );
    });
    // The controller manager's service-account controller creates every namespace's `default`.
    await waitFor(() => kubectl(state, ['-n', 'default', 'get', 'serviceaccount', 'default', '-o', 'name']).trim(), {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: 'the default ServiceAccount (kube-controller-manager)',
    });
    if (options.istio !== false) await applyIstio(state);
    return state;
  } catch (error) {
    await stopProcesses(state);
    throw error;
  }
}

/** kwok's flags for serving the kubelet API of its nodes on 127.0.0.1 (see ControlPlaneOptions.kubelet). */
function kubeletArgs(stateDir: string, port: number, certs: Certificates, resources: object[]): string[] {
  const config = path.join(stateDir, 'kwok-kubelet.yaml');
  writeFileSync(config, resources.map((r) => stringify(r)).join('---\n'));
  return [
    '--node-ip=127.0.0.1',
    `--node-port=${port}`,
    `--tls-cert-file=${certs.serverCert}`,
    `--tls-private-key-file=${certs.serverKey}`,
    `--config=${config}`,
  ];
}

/** kwok's CRDs of `kinds` from its module (Go's module cache: kwok was built from it). */
async function applyKwokCrds(state: ControlPlaneState, kinds: string[]): Promise<void> {
  const source = await moduleDir('sigs.k8s.io/kwok', pins.kwok);
  for (const kind of kinds)
    kubectl(state, [
      'apply',
      '--server-side',
      '-f',
      path.join(source, 'kustomize', 'crd', 'bases', `kwok.x-k8s.io_${kind.toLowerCase().replace(/s?$/, 's')}.yaml`),
    ]);
  await waitForCrdsEstablished(state, 'kwok.x-k8s.io');
}

async function waitForCrdsEstablished(state: ControlPlaneState, group: string): Promise<void> {
  // Read, not `kubectl wait --for=condition=Established crd --all`: that fails outright on a CRD
  // whose status has no conditions yet ("<nil> is of the type <nil>"), which a just-created one can.
  await waitFor(
    () => {
      const crds = (
        JSON.parse(kubectl(state, ['get', 'crd', '-o', 'json'])) as {
          items: { spec: { group: string }; status?: { conditions?: { type: string; status: string }[] } }[];
        }
      ).items.filter((c) => c.spec.group.endsWith(group));
      return crds.length > 0 &&
        crds.every((c) => c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True'))
        ? true
        : null;
    },
    { timeoutMs: 60_000, intervalMs: 200, what: `${group} CRDs Established` },
  );
}

/** Istio's CRDs from the istio.io/istio module (manifests/charts/base/files/crd-all.gen.yaml). */
export async function applyIstio(state: ControlPlaneState): Promise<void> {
  kubectl(
    state,
    ['apply', '--server-side', '-f', '-'],
    stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system' } }),
  );
  kubectl(state, ['apply', '--server-side', '-f', need('istio', 'crd-all.gen.yaml')]);
  await waitForCrdsEstablished(state, 'istio.io');
}

/** SIGTERM each of our processes in reverse start order, then SIGKILL what outlives 15 s. */
async function stopProcesses(state: ControlPlaneState): Promise<void> {
  for (const tracked of [...state.processes].reverse()) {
    if (!isOurs(tracked)) continue;
    process.kill(tracked.pid, 'SIGTERM');
    try {
      await waitFor(() => !isOurs(tracked), { timeoutMs: 15_000, intervalMs: 100, what: `${tracked.name} to exit` });
    } catch {
      if (isOurs(tracked)) process.kill(tracked.pid, 'SIGKILL');
      await waitFor(() => !isOurs(tracked), { timeoutMs: 5_000, intervalMs: 100, what: `${tracked.name} to die` });
    }
  }
}

/** Stops what `startControlPlane` started from `stateDir` and removes its files and kubeconfig. */
export async function stopControlPlane(stateDir: string): Promise<boolean> {
  const state = readState(stateDir);
  if (!state) return false;
  await stopProcesses(state);
  rmSync(state.kubeconfig, { force: true });
  rmSync(stateDir, { recursive: true, force: true });
  return true;
}

export interface ProcessStatus extends TrackedProcess {
  running: boolean;
  rssBytes: number | null;
}

/** Each tracked process, whether it still runs, and its resident memory (from /proc). */
export function processStatus(state: ControlPlaneState): ProcessStatus[] {
  return state.processes.map((p) => {
    const running = isOurs(p);
    let rssBytes: number | null = null;
    if (running) {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'));
      if (match) rssBytes = Number(match[1]) * 1024;
    }
    return { ...p, running, rssBytes };
  });
}
