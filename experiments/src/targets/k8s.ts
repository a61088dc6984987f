import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { meshNamespace } from '@recipe-mesh/measure/mesh-namespace';
import { waitForScrape } from '@recipe-mesh/measure/scrape';
import { parseScrape } from '@recipe-mesh/measure/metric-text';
import { portIsOpen, waitFor } from '@recipe-mesh/measure/net';
import { parse } from 'yaml';
import type { Experiment, Fix, ServiceName, Setup, Verdict } from '../definition.js';
import { k8sSignals } from '../k8s-signals.js';
import { type K8sEvidence, k8sValues, mergeAccessLogEvidence } from '../k8s-report.js';
import {
  compareK8sState,
  istioSpecs,
  type K8sState,
  patchedIstioKinds,
  podTemplates,
  redisConfigValue,
} from '../k8s-state.js';
import { signalEntries } from '../verdict.js';
import {
  compareReadings,
  envoyStatValues,
  exactValues,
  type ExactEvidence,
  sidecarLogArgs,
  sourcesNeeded,
} from '../k8s-evidence.js';
import { forwardPod, type PodForward } from '../k8s-forward.js';
import { type StatusedObject, waitForMeshPush } from '../k8s-mesh-push.js';
import { ingressUrl } from '../k8s-ingress.js';
import { containerRestarts, podsOfDeployment, restartsBetween } from '../k8s-pods.js';
import type { K8sLoadContext, Workload } from '../k8s-side.js';
import { type AccessLogEntry, parseAccessLog } from '@recipe-mesh/measure/access-log';
import { leftoversNotChecked, type LeftoverReport } from '../leftovers.js';
import { expectationHeld } from '../report.js';
import { RestoreStack } from '../restore.js';
import { checkPrometheusSources, type SourceCheck } from '../dry-run.js';
import { adminHeaders, getFaults, putFaults } from '@recipe-mesh/measure/admin-client';
import { repoRoot } from '@recipe-mesh/measure/repo';

/**
 * `--target k8s`: the same experiment definition against the minikube deployment with Istio —
 * app faults on every pod of a Deployment (each pod's admin port through its own port-forward, or
 * the documented FAULTS variable with a rollout where a fault must outlive the pods the run
 * replaces), mesh faults as the Istio resources of the setup (`make fault`), Redis config with
 * redis-cli in its pod, the experiment's own k8s load (built from the lab's load modules) through
 * the ingress gateway's address, and the verdict on exact evidence read as the lab reads it: every
 * pod's sidecar access log and admin metrics (k8s-evidence.ts), with PromQL beside it as what
 * Grafana shows. The plan is data, so it is printed (`--dry-run`), unit-tested, and executed by
 * `runPlan` step by step.
 *
 * Every kubectl and make command of a plan names its kubeconfig and context: a tool left to its
 * defaults reads $KUBECONFIG or ~/.kube/config's current context, or falls back to
 * http://localhost:8080, which is the lab ingress' port on this kind of machine (docs/kubernetes.md).
 */

/** Which cluster a plan talks to, always named on every command. */
export interface KubeAccess {
  kubeconfig: string;
  context: string;
  /** The kubectl binary (default `kubectl` on PATH); `make` gets it as KUBECTL when set. */
  kubectl?: string;
}

/**
 * What `make minikube-up` leaves: minikube writes its context, named after the profile
 * (MINIKUBE_PROFILE / KUBE_CONTEXT in make/k8s.mk), into ~/.kube/config.
 */
export const minikubeAccess: KubeAccess = {
  kubeconfig: path.join(homedir(), '.kube', 'config'),
  context: 'recipe-mesh',
};

export interface K8sOptions {
  fix: Fix | null;
  cluster: KubeAccess;
  /** Default: the manifests' namespace (k8s/base/kustomization.yaml), where every object of the platform runs. */
  namespace?: string;
  durationS: number;
  /** Where Istio's ingress gateway runs (`make istio-install`: istio-system). */
  istioNamespace?: string;
  /** Default: the observability component's Prometheus, deployed with the platform in its namespace. */
  prometheus?: { namespace: string; service: string; port: number };
  /** Where `make fault` composes its overlay (K8S_GENERATED; default k8s/.generated). */
  overlayDir?: string;
  /** `--ingress`: the gateway's address; default its Service's load-balancer status (k8s-ingress.ts). */
  ingress?: string;
}

/** The repository root: `make fault` runs there, wherever `npm run experiment` was started. */

/** Prometheus' local port (the one fixed forward: it is read, not under test). Pods get kernel-picked ports. */
export const localPorts = { prometheus: 19090 };

/** The Deployment of each workload whose pods a run reaches, and its namespace's role. */
export const deploymentOf: Record<Workload, { deployment: string; namespace: 'platform' | 'istio' }> = {
  'web-api': { deployment: 'web-api', namespace: 'platform' },
  'recipe-api': { deployment: 'recipe-api', namespace: 'platform' },
  ingress: { deployment: 'istio-ingressgateway', namespace: 'istio' },
};

/** The admin port's name in both Deployments (k8s/base/deployment-*.yaml). */
export const adminPortName = 'http-admin';
/** Envoy's admin port in Istio's sidecars and gateways (`proxyAdminPort`, pkg/config/constants). */
export const envoyAdminPort = 15000;

/** What a setup or restore command changes: the Istio resources, Redis' config, a Deployment's pod template. */
export type K8sScope = 'mesh' | 'redis' | 'app-env' | 'deployment';

export type K8sStep =
  | { kind: 'port-forward'; describe: string; argv: string[]; localPort: number }
  | { kind: 'command'; phase: 'setup' | 'restore'; scope: K8sScope; describe: string; argv: string[]; stdin?: string }
  /** `PUT`/`DELETE /faults` on every serving pod of the service's Deployment, each through its own forward. */
  | {
      kind: 'pod-faults';
      phase: 'setup' | 'restore';
      service: ServiceName;
      describe: string;
      method: 'PUT' | 'DELETE';
      body?: string;
    }
  | { kind: 'load'; describe: string; durationS: number }
  | { kind: 'query'; describe: string /** The signal's key. */; name: string; promql: string }
  /** Every pod's sidecar access log (`kubectl logs pod/… -c istio-proxy --since-time`), read after the load. */
  | { kind: 'access-logs'; describe: string; workload: Workload; namespace: string; deployment: string };

export interface K8sPlan {
  experiment: string;
  mode: 'incident' | 'fix';
  fixVariant: string | null;
  namespace: string;
  istioNamespace: string;
  cluster: KubeAccess;
  /** The Redis settings the setup changes, read back after the restore. */
  redisConfigKeys: string[];
  /** Services whose admin metrics the verdict counts from (each pod, before and after the load). */
  metricServices: ServiceName[];
  /** Envoy admin counters the verdict counts from (each pod's sidecar, before and after the load). */
  envoyStats: { workload: Workload; filter: string }[];
  ingress: string | null;
  steps: K8sStep[];
}

/** Redis' defaults, which the restore steps put back (redis.conf). */
const redisDefaults: Record<string, string> = { 'slowlog-log-slower-than': '10000' };

/** Rounds a run length up to a PromQL range that covers it with a scrape interval to spare. */
export function promWindow(durationS: number): string {
  return `${Math.max(1, Math.ceil((durationS + 30) / 60))}m`;
}

export function fillQuery(promql: string, namespace: string, window: string): string {
  return promql.replaceAll('$namespace', namespace).replaceAll('$window', window);
}

/** The command lines of a plan, each pinned to the plan's cluster. */
function commandsFor(cluster: KubeAccess, overlayDir: string | undefined) {
  const kubectlBin = cluster.kubectl ?? 'kubectl';
  return {
    kubectl: (...args: string[]) => [
      kubectlBin,
      '--kubeconfig',
      cluster.kubeconfig,
      '--context',
      cluster.context,
      ...args,
    ],
    /** A make target of make/k8s.mk, pointed at the cluster by its variables (as docs/kubernetes.md shows). */
    make: (target: string, ...variables: string[]) => [
      'make',
      target,
      ...variables,
      `KUBECONFIG=${cluster.kubeconfig}`,
      `KUBE_CONTEXT=${cluster.context}`,
      ...(cluster.kubectl ? [`KUBECTL=${cluster.kubectl}`] : []),
      ...(overlayDir ? [`K8S_GENERATED=${overlayDir}`] : []),
    ],
  };
}

type Commands = ReturnType<typeof commandsFor>;

/**
 * A container's `lifecycle.preStop` as the manifests declare it (k8s/base/deployment-<service>.yaml,
 * the one source of truth for how a pod behaves): what the restore puts back after the incident
 * removed it.
 */
export function manifestPreStop(service: ServiceName): unknown {
  const file = path.join(repoRoot, 'k8s', 'base', `deployment-${service}.yaml`);
  const deployment = parse(readFileSync(file, 'utf8')) as {
    spec: { template: { spec: { containers: { name: string; lifecycle?: { preStop?: unknown } }[] } } };
  };
  const container = deployment.spec.template.spec.containers.find((c) => c.name === service);
  const preStop = container?.lifecycle?.preStop;
  if (preStop === undefined) throw new Error(`${file}: container ${service} has no lifecycle.preStop`);
  return preStop;
}

/** A strategic-merge patch of one container of a Deployment's pod template. */
const containerPatch = (service: ServiceName, container: Record<string, unknown>) =>
  JSON.stringify({ spec: { template: { spec: { containers: [{ name: service, ...container }] } } } });

/**
 * Changes of the Deployments' pod templates, each rolling the pods: the incident's preStop
 * removal, and app faults as the FAULTS variable where they must outlive the run's own rollouts.
 * One `rollout status` per Deployment after its changes.
 */
function deploymentSteps(
  experiment: Experiment<unknown>,
  setup: Setup,
  incident: boolean,
  ns: string,
  cmd: Commands,
): { apply: K8sStep[]; undo: K8sStep[] } {
  const apply: K8sStep[] = [];
  const undo: K8sStep[] = [];
  const side = experiment.k8s;
  const touched = new Set<ServiceName>();
  const step = (phase: 'setup' | 'restore', describe: string, argv: string[]): K8sStep => ({
    kind: 'command',
    phase,
    scope: 'deployment',
    describe,
    argv,
  });
  for (const service of incident ? (side.incidentWithoutPreStop ?? []) : []) {
    touched.add(service);
    const patch = (container: Record<string, unknown>) =>
      cmd.kubectl(
        '-n',
        ns,
        'patch',
        'deployment',
        service,
        '--type=strategic',
        '-p',
        containerPatch(service, container),
      );
    apply.push(
      step(
        'setup',
        `${service}: no preStop hook (the incident runs without the sleep that is itself a fix)`,
        patch({ lifecycle: { preStop: null } }),
      ),
    );
    undo.push(
      step(
        'restore',
        `${service}: the manifests' preStop hook back`,
        patch({ lifecycle: { preStop: manifestPreStop(service) } }),
      ),
    );
  }
  if (side.appFaultsBy === 'env') {
    for (const [service, doc] of Object.entries(setup.appFaults) as [ServiceName, object][]) {
      if (Object.keys(doc).length === 0) continue;
      touched.add(service);
      apply.push(
        step(
          'setup',
          `${service}: app faults ${JSON.stringify(doc)} on every pod, as the FAULTS variable (docs/kubernetes.md)`,
          cmd.kubectl('-n', ns, 'set', 'env', `deployment/${service}`, `FAULTS=${JSON.stringify(doc)}`),
        ),
      );
      undo.push(
        step(
          'restore',
          `${service}: without FAULTS`,
          cmd.kubectl('-n', ns, 'set', 'env', `deployment/${service}`, 'FAULTS-'),
        ),
      );
    }
  }
  for (const service of touched) {
    const wait = (phase: 'setup' | 'restore') =>
      step(
        phase,
        `wait for ${service}'s rollout`,
        cmd.kubectl('-n', ns, 'rollout', 'status', `deployment/${service}`, '--timeout=180s'),
      );
    apply.push(wait('setup'));
    undo.push(wait('restore'));
  }
  return { apply, undo };
}

function setupSteps(
  experiment: Experiment<unknown>,
  setup: Setup,
  ns: string,
  cmd: Commands,
): { apply: K8sStep[]; undo: K8sStep[] } {
  const apply: K8sStep[] = [];
  const undo: K8sStep[] = [];
  if (experiment.k8s.appFaultsBy !== 'env') {
    for (const [service, doc] of Object.entries(setup.appFaults) as [ServiceName, object][]) {
      const clear = (phase: 'setup' | 'restore'): K8sStep => ({
        kind: 'pod-faults',
        phase,
        service,
        describe: `${service}: clear app faults on every pod`,
        method: 'DELETE',
      });
      apply.push(
        Object.keys(doc).length === 0
          ? clear('setup')
          : {
              kind: 'pod-faults',
              phase: 'setup',
              service,
              describe: `${service}: app faults ${JSON.stringify(doc)} on every pod`,
              method: 'PUT',
              body: JSON.stringify(doc),
            },
      );
      undo.push(clear('restore'));
    }
  }
  if (setup.mesh.length > 1)
    throw new Error(`one mesh component per run on k8s (make fault takes one FAULT): ${setup.mesh.join(', ')}`);
  for (const component of setup.mesh) {
    // As `make fault` does: the overlay plus istio/faults/<name>, server-side applied, so the
    // component patches the existing resources instead of adding a second one for the same host.
    apply.push({
      kind: 'command',
      phase: 'setup',
      scope: 'mesh',
      describe: `apply istio/faults/${component} on top of the platform`,
      argv: cmd.make('fault', `FAULT=${component}`),
    });
    undo.push({
      kind: 'command',
      phase: 'restore',
      scope: 'mesh',
      describe: `re-apply the platform without istio/faults/${component}`,
      argv: cmd.make('fault-clear'),
    });
  }
  for (const [key, value] of Object.entries(setup.redisConfig ?? {})) {
    const redisCli = (v: string) =>
      cmd.kubectl('-n', ns, 'exec', 'deploy/redis', '--', 'redis-cli', 'CONFIG', 'SET', key, v);
    apply.push({
      kind: 'command',
      phase: 'setup',
      scope: 'redis',
      describe: `redis ${key} ${value}`,
      argv: redisCli(value),
    });
    undo.push({
      kind: 'command',
      phase: 'restore',
      scope: 'redis',
      describe: `redis ${key} back to its default`,
      argv: redisCli(redisDefaults[key] ?? value),
    });
  }
  return { apply, undo };
}

export function k8sPlan(experiment: Experiment<unknown>, options: K8sOptions): K8sPlan {
  const ns = options.namespace ?? meshNamespace;
  const istioNs = options.istioNamespace ?? 'istio-system';
  const prom = options.prometheus ?? { namespace: ns, service: 'prometheus', port: 9090 };
  const setup = options.fix?.setup ?? experiment.incidentSetup;
  const window = promWindow(options.durationS);
  const cmd = commandsFor(options.cluster, options.overlayDir);
  // Startup settings first: `set env` rolls recipe-api's pods.
  const startup: K8sStep[] = [];
  for (const [key, value] of Object.entries(experiment.labAppEnv ?? {})) {
    startup.push({
      kind: 'command',
      phase: 'setup',
      scope: 'app-env',
      describe: `recipe-api started with ${key}=${value}`,
      argv: cmd.kubectl('-n', ns, 'set', 'env', 'deploy/recipe-api', `${key}=${value}`),
    });
    startup.push({
      kind: 'command',
      phase: 'setup',
      scope: 'app-env',
      describe: 'wait for the rollout',
      argv: cmd.kubectl('-n', ns, 'rollout', 'status', 'deploy/recipe-api', '--timeout=120s'),
    });
  }
  const steps: K8sStep[] = [
    ...startup,
    {
      kind: 'port-forward',
      describe: 'Prometheus',
      argv: cmd.kubectl(
        '-n',
        prom.namespace,
        'port-forward',
        `svc/${prom.service}`,
        `${localPorts.prometheus}:${prom.port}`,
      ),
      localPort: localPorts.prometheus,
    },
  ];
  // Pod templates first (they roll the pods), then what reaches the pods that result.
  const deployments = deploymentSteps(experiment, setup, options.fix === null, ns, cmd);
  const { apply, undo } = setupSteps(experiment, setup, ns, cmd);
  steps.push(...deployments.apply, ...apply);
  steps.push({ kind: 'load', describe: experiment.k8s.load.describe, durationS: options.durationS });
  for (const query of k8sSignals(experiment).queries)
    steps.push({
      kind: 'query',
      describe: query.title,
      name: query.key,
      promql: fillQuery(query.promql, ns, window),
    });
  // recipe-api's sidecar always, as the report's access log; the rest as the exact readings need.
  const { workloads, metricServices, envoyStats } = sourcesNeeded(experiment.k8s);
  for (const workload of [...new Set<Workload>(['recipe-api', ...workloads])]) {
    const { deployment, namespace } = deploymentOf[workload];
    steps.push({
      kind: 'access-logs',
      describe: `${workload}: every pod's sidecar access log since the setup (Istio text format)`,
      workload,
      namespace: namespace === 'istio' ? istioNs : ns,
      deployment,
    });
  }
  // Pod faults are cleared before the pod templates roll back (a rollout would end the forwards);
  // the template's undos keep their order: the patches, then the wait for their rollout.
  steps.push(...undo.reverse(), ...deployments.undo);
  for (const key of Object.keys(experiment.labAppEnv ?? {})) {
    steps.push({
      kind: 'command',
      phase: 'restore',
      scope: 'app-env',
      describe: `recipe-api without ${key}`,
      argv: cmd.kubectl('-n', ns, 'set', 'env', 'deploy/recipe-api', `${key}-`),
    });
    // The run ends with the pods as it found them, not half rolled under the next command.
    steps.push({
      kind: 'command',
      phase: 'restore',
      scope: 'app-env',
      describe: 'wait for the rollout',
      argv: cmd.kubectl('-n', ns, 'rollout', 'status', 'deploy/recipe-api', '--timeout=120s'),
    });
  }
  return {
    experiment: experiment.name,
    mode: options.fix ? 'fix' : 'incident',
    fixVariant: options.fix?.name ?? null,
    namespace: ns,
    istioNamespace: istioNs,
    cluster: options.cluster,
    redisConfigKeys: Object.keys(setup.redisConfig ?? {}),
    metricServices,
    envoyStats,
    ingress: options.ingress ?? null,
    steps,
  };
}

const shell = (argv: string[]) =>
  argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(' ');

/** The plan as a person would type it. */
export function renderPlan(plan: K8sPlan): string {
  const kubectl = commandsFor(plan.cluster, undefined).kubectl;
  const lines = [
    `# ${plan.experiment} on Kubernetes (${plan.mode}${plan.fixVariant ? `: ${plan.fixVariant}` : ''}), namespace ${plan.namespace}`,
    `# load through the ingress gateway at ${plan.ingress ?? `the load-balancer address of ${plan.istioNamespace}/istio-ingressgateway (minikube tunnel)`}`,
  ];
  for (const step of plan.steps) {
    lines.push(`# ${step.describe}`);
    switch (step.kind) {
      case 'port-forward':
        lines.push(`${shell(step.argv)} &`);
        break;
      case 'command':
        lines.push(step.stdin ? `${shell(step.argv)} <<'YAML'\n${step.stdin.trimEnd()}\nYAML` : shell(step.argv));
        break;
      case 'pod-faults': {
        // The Deployment's own selector names its pods (k8s-pods.ts); each pod gets its own forward.
        const curl = shell([
          'curl',
          '-sS',
          '-X',
          step.method,
          ...(step.body ? ['-H', 'content-type: application/json', '--data', step.body] : []),
        ]);
        lines.push(
          `for pod in $(${shell(kubectl('-n', plan.namespace, 'get', 'pods', '-l', `<spec.selector of deployment/${step.service}>`, '-o', 'name'))}); do`,
          `  ${shell(kubectl('-n', plan.namespace, 'port-forward', '--address', '127.0.0.1'))} "$pod" :${adminPortName} &  # prints its local port`,
          `  ${curl} http://127.0.0.1:<its port>/faults; kill %%`,
          'done',
        );
        break;
      }
      case 'load':
        lines.push(`# ${step.durationS} s of load, as the lab sends it (the experiment's k8s load)`);
        break;
      case 'query':
        lines.push(
          shell([
            'curl',
            '-sS',
            '--get',
            `http://127.0.0.1:${localPorts.prometheus}/api/v1/query`,
            '--data-urlencode',
            `query=${step.promql}`,
          ]),
        );
        break;
      case 'access-logs':
        lines.push(
          `for pod in $(${shell(kubectl('-n', step.namespace, 'get', 'pods', '-l', `<spec.selector of deployment/${step.deployment}>`, '-o', 'name'))}); do`,
          `  ${shell(kubectl('-n', step.namespace, 'logs'))} "$pod" -c istio-proxy --since-time=<setup time, RFC 3339>`,
          'done',
        );
        break;
    }
  }
  return lines.join('\n');
}

/** Runs one command from the repository root; resolves with its stdout, rejects with stderr on a non-zero exit. */
export function runCommand(argv: string[], stdin?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${shell(argv)}: exit ${code}: ${err.trim()}`)),
    );
    child.stdin.end(stdin ?? '');
  });
}

function waitForPort(port: number, timeoutMs = 15_000): Promise<boolean> {
  return waitFor(() => portIsOpen(port), { timeoutMs, intervalMs: 200, what: `the port-forward to ${port}` });
}

/** An instant query; null when it returns no series (a wrong label or namespace answers nothing). */
export async function promQuery(prometheusUrl: string, promql: string, atMs?: number): Promise<number | null> {
  const url = new URL('/api/v1/query', prometheusUrl);
  url.searchParams.set('query', promql);
  if (atMs !== undefined) url.searchParams.set('time', String(atMs / 1000));
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as {
    status: string;
    data?: { result?: { value?: [number, string] }[] };
    error?: string;
  };
  if (body.status !== 'success') throw new Error(`PromQL failed: ${body.error ?? res.status}: ${promql}`);
  const first = body.data?.result?.[0]?.value?.[1];
  return first === undefined ? null : Number(first);
}

/**
 * `--dry-run`'s check of a plan's signal sources, read-only: the Prometheus port-forward of the
 * plan, then each signal's query as the run would send it (dry-run.ts). Injects nothing.
 */
export async function checkPlanSources(plan: K8sPlan): Promise<SourceCheck[]> {
  const forward = plan.steps.find(
    (s): s is Extract<K8sStep, { kind: 'port-forward' }> =>
      s.kind === 'port-forward' && s.localPort === localPorts.prometheus,
  );
  const queries = plan.steps.flatMap((s) => (s.kind === 'query' ? [{ signal: s.describe, promql: s.promql }] : []));
  if (!forward) return queries.map((q) => ({ ...q, source: 'Prometheus', ok: false, detail: 'no port-forward' }));
  const child = spawn(forward.argv[0]!, forward.argv.slice(1), { stdio: 'ignore' });
  try {
    await waitForPort(forward.localPort);
  } catch (error) {
    child.kill('SIGTERM');
    return queries.map((q) => ({
      signal: q.signal,
      source: 'Prometheus',
      ok: false,
      detail: `unreachable (${forward.argv.join(' ')}): ${(error as Error).message}`,
    }));
  }
  try {
    return await checkPrometheusSources(`http://127.0.0.1:${forward.localPort}`, queries);
  } finally {
    child.kill('SIGTERM');
  }
}

export interface PlanRun {
  code: number;
  verdict: Verdict | null;
  values: Record<string, number | null>;
  startedAt: Date;
  evidence: K8sEvidence;
  restoreFailures: string[];
  /** The state read back after the restore, compared with before the setup (k8s-state.ts). */
  leftovers: LeftoverReport;
  /** From the first setup change to the start of the restore; null when the setup never began. */
  faultWindow: { startMs: number; endMs: number } | null;
}

/** What a run reaches on a cluster: kubectl pinned to it, and the pods of each workload by name. */
function clusterOf(plan: K8sPlan) {
  const { kubectl } = commandsFor(plan.cluster, undefined);
  const prefix = kubectl();
  const nsOf = (workload: Workload | 'redis') =>
    workload !== 'redis' && deploymentOf[workload].namespace === 'istio' ? plan.istioNamespace : plan.namespace;
  const kubectlIn = (namespace: string) => (args: string[], stdin?: string) =>
    runCommand(kubectl('-n', namespace, ...args), stdin);
  const deploymentName = (workload: Workload | 'redis') =>
    workload === 'redis' ? 'redis' : deploymentOf[workload].deployment;
  const pods = async (workload: Workload | 'redis') =>
    (await podsOfDeployment(kubectlIn(nsOf(workload)), deploymentName(workload))).map((p) => p.name);
  return {
    kubectlIn,
    nsOf,
    pods,
    /** `fn` on every serving pod of `service`, each through its own port-forward of `port`; returns the pods. */
    async onEveryPod<T>(
      workload: Workload,
      port: string,
      fn: (forward: PodForward) => Promise<T>,
    ): Promise<{ pod: string; result: T }[]> {
      const names = await pods(workload);
      if (names.length === 0) throw new Error(`deployment ${deploymentName(workload)} has no running pod`);
      const results: { pod: string; result: T }[] = [];
      for (const pod of names) {
        const forward = await forwardPod(prefix, nsOf(workload), pod, port);
        try {
          results.push({ pod, result: await fn(forward) });
        } finally {
          forward.stop();
        }
      }
      return results;
    },
    forwardOne: async (workload: ServiceName | 'redis', port: string) => {
      const [pod] = await pods(workload);
      if (!pod) throw new Error(`deployment ${deploymentName(workload)} has no running pod`);
      return forwardPod(prefix, nsOf(workload), pod, port);
    },
  };
}

type Cluster = ReturnType<typeof clusterOf>;

/** One pod-faults step on every serving pod of its service, each through its own forward; the pods it reached. */
export async function applyPodFaults(plan: K8sPlan, step: Extract<K8sStep, { kind: 'pod-faults' }>): Promise<string[]> {
  const done = await clusterOf(plan).onEveryPod(step.service, adminPortName, (f) =>
    sendPodFaults(f, step.method, step.body),
  );
  return done.map((d) => d.pod);
}

/** Every pod's sidecar log of an access-logs step since `sinceMs`, parsed as the lab parses its files. */
export async function readPodAccessLogs(
  plan: K8sPlan,
  step: Extract<K8sStep, { kind: 'access-logs' }>,
  sinceMs: number,
): Promise<{ entries: Record<string, AccessLogEntry[]>; missing: string[] }> {
  const { logs, missing } = await readAccessLogs(clusterOf(plan), step, sinceMs, []);
  return {
    entries: Object.fromEntries(Object.entries(logs).map(([pod, text]) => [pod, parseAccessLog(text)])),
    missing,
  };
}

async function sendPodFaults(forward: PodForward, method: 'PUT' | 'DELETE', body: string | undefined): Promise<void> {
  const doc = method === 'PUT' && body ? JSON.parse(body) : {};
  await putFaults(forward.url, doc, { timeoutMs: 10_000 }).catch((error: Error) => {
    throw new Error(`${method} /faults on pod ${forward.pod}: ${error.message}`);
  });
}

/** What a run may change, read from the cluster: every pod's faults, the Istio specs, Redis, the pod templates. */
async function readK8sState(plan: K8sPlan, cluster: Cluster): Promise<K8sState> {
  const kubectl = cluster.kubectlIn(plan.namespace);
  const redisConfig: Record<string, string> = {};
  for (const key of plan.redisConfigKeys)
    redisConfig[key] = redisConfigValue(
      await kubectl(['exec', 'deploy/redis', '--', 'redis-cli', 'CONFIG', 'GET', key]),
    );
  const faults: K8sState['faults'] = {};
  for (const service of ['web-api', 'recipe-api'] as const)
    faults[service] = (await cluster.onEveryPod(service, adminPortName, (f) => getFaults(f.url))).map((r) => r.result);
  return {
    faults,
    istio: istioSpecs(await kubectl(['get', patchedIstioKinds, '-o', 'json'])),
    redisConfig,
    templates: podTemplates(await kubectl(['get', 'deployments', 'web-api', 'recipe-api', '-o', 'json'])),
  };
}

/**
 * Every pod's sidecar log of a workload since `sinceMs`, read until two reads in a row hold the
 * same lines (Envoy writes its access log to stdout in batches): reading, not sleeping.
 */
async function readAccessLogs(
  cluster: Cluster,
  step: Extract<K8sStep, { kind: 'access-logs' }>,
  sinceMs: number,
  alsoPods: string[],
): Promise<{ logs: Record<string, string>; missing: string[] }> {
  const pods = [...new Set([...(await cluster.pods(step.workload)), ...alsoPods])].sort();
  const kubectl = cluster.kubectlIn(step.namespace);
  const readAll = async () => {
    const logs: Record<string, string> = {};
    const missing: string[] = [];
    for (const pod of pods) {
      try {
        logs[pod] = await kubectl(sidecarLogArgs(pod, sinceMs));
      } catch (error) {
        // A pod deleted during the run (a rollout) takes its log with it.
        missing.push(`${pod}: ${(error as Error).message.split('\n')[0]}`);
      }
    }
    return { logs, missing };
  };
  const size = (r: { logs: Record<string, string> }) => Object.values(r.logs).reduce((n, t) => n + t.length, 0);
  let last = await readAll();
  await waitFor(
    async () => {
      const next = await readAll();
      const steady = size(next) === size(last);
      last = next;
      return steady;
    },
    { timeoutMs: 15_000, intervalMs: 1000, what: `${step.workload}'s access logs to settle` },
  ).catch(() => {});
  return last;
}

/**
 * Executes a plan against its cluster: startup settings, pod-template changes, faults on every
 * pod, the experiment's load through the ingress gateway, queries, every pod's access log, the
 * restore (also on failure and Ctrl-C), then the state read back and compared with before the
 * setup. The verdict reads each signal's exact count where the experiment declares one, PromQL's
 * answer otherwise; the report shows both. Returns the exit code: 0 when the verdict matches the
 * expectation and nothing was left behind.
 */
export async function runPlan(
  plan: K8sPlan,
  experiment: Experiment<unknown>,
  options: { log: (line: string) => void },
): Promise<PlanRun> {
  const { log } = options;
  const startedAt = new Date();
  const restore = new RestoreStack();
  const removeSignals = restore.restoreOnSignals(log);
  const cluster = clusterOf(plan);
  const forwards: ChildProcess[] = [];
  const podForwards: PodForward[] = [];
  restore.push('stop the port-forwards', async () => {
    for (const f of forwards) f.kill('SIGTERM');
    for (const f of podForwards) f.stop();
  });
  const evidence: K8sEvidence = {
    queries: [],
    comparisons: [],
    pods: {},
    faultedPods: [],
    accessLog: [],
    accessLogCounts: {},
    load: [],
    notes: [],
  };
  const runPodFaults = async (step: Extract<K8sStep, { kind: 'pod-faults' }>) => {
    const done = await cluster.onEveryPod(step.service, adminPortName, (f) => sendPodFaults(f, step.method, step.body));
    for (const { pod } of done)
      evidence.faultedPods.push({ service: step.service, pod, phase: step.phase, method: step.method });
    log(`  ${step.method} /faults on ${done.map((d) => d.pod).join(', ')}`);
  };
  // A mesh change counts once the proxies have it, not when the API server took it.
  const istioObjects = async (): Promise<StatusedObject[]> =>
    (
      JSON.parse(
        await cluster.kubectlIn(plan.namespace)(['get', 'virtualservices,destinationrules', '-o', 'json']),
      ) as { items: StatusedObject[] }
    ).items;
  const runCommandStep = async (step: Extract<K8sStep, { kind: 'command' }>) => {
    await runCommand(step.argv, step.stdin);
    if (step.scope !== 'mesh') return;
    const push = await waitForMeshPush(istioObjects);
    log(`  ${push.note}`);
    if (!push.confirmed && !evidence.notes.includes(push.note)) evidence.notes.push(push.note);
  };
  const restoreSteps = plan.steps.filter(
    (s): s is Extract<K8sStep, { kind: 'command' | 'pod-faults' }> =>
      (s.kind === 'command' || s.kind === 'pod-faults') && s.phase === 'restore',
  );
  const register = (steps: typeof restoreSteps) => {
    // Pushed newest-last in reverse plan order, so the stack runs them in plan order.
    for (const step of [...steps].reverse())
      restore.push(step.describe, async () => {
        restoreBeganMs ??= Date.now();
        if (step.kind === 'command') await runCommandStep(step);
        else await runPodFaults(step);
      });
  };
  // Every undo is registered up front (undoing what was never applied is harmless: DELETE,
  // make fault-clear, CONFIG SET to the default, the manifests' preStop), so a failure half-way
  // still restores it all. The startup settings go last, after the state is read back.
  let restoreBeganMs: number | null = null;
  let before: K8sState | null = null;
  let leftovers: LeftoverReport = leftoversNotChecked;
  const isStartup = (s: K8sStep) => s.kind === 'command' && s.scope === 'app-env';
  register(restoreSteps.filter(isStartup));
  restore.push('read the state back', async () => {
    if (before) leftovers = compareK8sState(before, await readK8sState(plan, cluster));
  });
  register(restoreSteps.filter((s) => !isStartup(s)));

  const metricsOf = (service: ServiceName) =>
    cluster.onEveryPod(service, adminPortName, async (f) => {
      const res = await fetch(`${f.url}/metrics`, { headers: adminHeaders(), signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`GET /metrics on pod ${f.pod}: ${res.status}`);
      return parseScrape(await res.text());
    });
  const exact: ExactEvidence = { accessLogs: {}, metrics: {}, load: [] };
  // Envoy's admin listens on the pod's localhost (Istio: 127.0.0.1:15000); a port-forward enters
  // the pod's network namespace, as `istioctl dashboard envoy` does.
  // The readings it feeds are optional signals: one that cannot be read is a note, and the
  // signal falls back to its PromQL.
  const envoyStatsOf = (workload: Workload, filter: string) =>
    cluster
      .onEveryPod(workload, String(envoyAdminPort), async (f) => {
        const res = await fetch(`${f.url}/stats?format=json&filter=${encodeURIComponent(filter)}`, {
          signal: AbortSignal.timeout(10_000),
        });
        if (!res.ok) throw new Error(`GET /stats on pod ${f.pod}'s Envoy: ${res.status}`);
        return envoyStatValues(await res.text());
      })
      .catch((error: Error) => {
        evidence.notes.push(`${workload}: Envoy admin stats (${filter}) not read: ${error.message.split('\n')[0]}`);
        return [];
      });
  let setupBeganMs: number | null = null;
  let verdict: Verdict | null = null;
  let restoreFailures: string[] = [];
  try {
    for (const step of plan.steps) {
      log(step.describe);
      const isSetup = (step.kind === 'command' || step.kind === 'pod-faults') && step.phase === 'setup';
      if (isSetup && !isStartup(step)) {
        before ??= await readK8sState(plan, cluster);
        setupBeganMs ??= Date.now();
      }
      if (step.kind === 'port-forward') {
        forwards.push(spawn(step.argv[0]!, step.argv.slice(1), { stdio: 'ignore' }));
        await waitForPort(step.localPort);
      } else if ((step.kind === 'command' || step.kind === 'pod-faults') && step.phase === 'restore') {
        // registered on the restore stack above
      } else if (step.kind === 'command') {
        await runCommandStep(step);
      } else if (step.kind === 'pod-faults') {
        await runPodFaults(step);
      } else if (step.kind === 'load') {
        // A run without setup steps (a fix that changes nothing) still checks what it left behind.
        before ??= await readK8sState(plan, cluster);
        setupBeganMs ??= Date.now();
        const ingress =
          plan.ingress ??
          ingressUrl(
            await cluster.kubectlIn(plan.istioNamespace)(['get', 'service', 'istio-ingressgateway', '-o', 'json']),
          );
        const metricsBefore = new Map<ServiceName, { pod: string; result: ReturnType<typeof parseScrape> }[]>();
        for (const service of plan.metricServices) metricsBefore.set(service, await metricsOf(service));
        const envoyBefore = await Promise.all(plan.envoyStats.map((s) => envoyStatsOf(s.workload, s.filter)));
        const ctx: K8sLoadContext = {
          ingress,
          durationS: step.durationS,
          log: (line) => log(`  ${line}`),
          kubectl: cluster.kubectlIn(plan.namespace),
          podUrl: async (service, port) => {
            const forward = await cluster.forwardOne(service, port);
            podForwards.push(forward);
            log(`  ${service} ${port}: pod ${forward.pod} at ${forward.url}`);
            return forward.url;
          },
          onRestore: (label, undo) => restore.push(label, undo),
        };
        log(`  through the ingress gateway at ${ingress}`);
        // A pod the load kills (OOMKilled under upload-oom's buffers) restarts: that is evidence too.
        const podsJson = () => cluster.kubectlIn(plan.namespace)(['get', 'pods', '-o', 'json']);
        const restartsBefore = containerRestarts(await podsJson());
        evidence.load = await experiment.k8s.load.drive(ctx);
        const restarted = restartsBetween(restartsBefore, containerRestarts(await podsJson()));
        evidence.notes.push(...restarted);
        for (const line of restarted) log(`  ${line}`);
        exact.load = evidence.load;
        for (const service of plan.metricServices) {
          const after = await metricsOf(service);
          const pods: NonNullable<ExactEvidence['metrics'][ServiceName]> = {};
          for (const b of metricsBefore.get(service) ?? []) {
            const a = after.find((x) => x.pod === b.pod);
            if (a) pods[b.pod] = { before: b.result, after: a.result };
            else evidence.notes.push(`${service} pod ${b.pod} was gone after the load: its metrics are not counted`);
          }
          exact.metrics[service] = pods;
        }
        for (const [i, { workload }] of plan.envoyStats.entries()) {
          const after = await envoyStatsOf(workload, plan.envoyStats[i]!.filter);
          const pods = (exact.envoyStats ??= {})[workload] ?? {};
          for (const b of envoyBefore[i] ?? []) {
            const a = after.find((x) => x.pod === b.pod);
            const merged = pods[b.pod] ?? { before: {}, after: {} };
            if (a) pods[b.pod] = { before: { ...merged.before, ...b.result }, after: { ...merged.after, ...a.result } };
          }
          exact.envoyStats[workload] = pods;
        }
        // Every target scraped after the load ended: the queries then see all of it (no guessed sleep).
        log('waiting for Prometheus to scrape every target once more…');
        await waitForScrape(`http://127.0.0.1:${localPorts.prometheus}`, Date.now(), { timeoutMs: 60_000 });
      } else if (step.kind === 'query') {
        const value = await promQuery(`http://127.0.0.1:${localPorts.prometheus}`, step.promql);
        evidence.queries.push({ name: step.name, promql: step.promql, value });
        log(`  ${step.describe} = ${value ?? 'no data'} (PromQL)`);
      } else if (step.kind === 'access-logs') {
        const faulted = evidence.faultedPods.filter((p) => p.service === step.workload).map((p) => p.pod);
        const { logs, missing } = await readAccessLogs(cluster, step, setupBeganMs ?? startedAt.getTime(), faulted);
        const entries = Object.fromEntries(Object.entries(logs).map(([pod, text]) => [pod, parseAccessLog(text)]));
        exact.accessLogs[step.workload] = entries;
        evidence.pods[step.workload] = Object.keys(entries);
        Object.assign(evidence, mergeAccessLogEvidence(evidence, step.workload, entries));
        evidence.notes.push(...missing.map((m) => `${step.workload}: no access log of ${m}`));
      }
    }
    const keys = signalEntries(experiment).map((e) => e.key);
    evidence.comparisons = compareReadings(keys, experiment.k8s, exactValues(experiment.k8s, exact), evidence.queries);
    for (const c of evidence.comparisons) if (c.note) log(`  ${c.key}: ${c.note}`);
    verdict = k8sSignals(experiment).judge(k8sValues(evidence));
  } finally {
    // Restore steps were pushed in plan order; the stack runs them newest first, i.e. in reverse.
    restoreFailures = await restore.restoreAll(log);
    for (const f of restoreFailures) log(`restore failed: ${f}`);
    removeSignals();
  }
  const held =
    verdict !== null &&
    expectationHeld(verdict, plan.mode === 'fix') &&
    leftovers.clean &&
    restoreFailures.length === 0;
  if (verdict) log(`verdict: ${verdict.outcome} — ${verdict.reasons.join('; ')}`);
  for (const c of leftovers.checks.filter((c) => !c.ok)) log(`left behind: ${c.what}: ${c.detail}`);
  return {
    code: held ? 0 : 1,
    verdict,
    values: k8sValues(evidence),
    startedAt,
    evidence,
    restoreFailures,
    leftovers,
    faultWindow: setupBeganMs === null ? null : { startMs: setupBeganMs, endMs: restoreBeganMs ?? Date.now() },
  };
}
