import { spawn, type ChildProcess } from 'node:child_process';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLoad } from '@recipe-mesh/lab/load/load';
import { meshNamespace } from '@recipe-mesh/lab/mesh/namespace';
import { waitForScrape } from '@recipe-mesh/lab/panels/scrape';
import { portIsOpen, waitFor } from '@recipe-mesh/measure/net';
import type { LoadResult } from '@recipe-mesh/lab/load/load';
import type { Experiment, Fix, ServiceName, Setup, Verdict } from '../definition.js';
import { k8sSignals } from '../k8s-signals.js';
import { accessLogEvidence, type K8sEvidence, k8sValues } from '../k8s-report.js';
import { compareK8sState, istioSpecs, type K8sState, patchedIstioKinds, redisConfigValue } from '../k8s-state.js';
import { leftoversNotChecked, type LeftoverReport } from '../leftovers.js';
import { expectationHeld } from '../report.js';
import { RestoreStack } from '../restore.js';
import { checkPrometheusSources, type SourceCheck } from '../dry-run.js';
import { getFaults } from './lab.js';

/**
 * `--target k8s`: the same experiment definition against the minikube deployment with Istio —
 * app faults through the admin port (kubectl port-forward), mesh faults as the Istio resources of
 * the setup (kubectl apply), Redis config with redis-cli in its pod, signals as PromQL. The plan
 * is data, so it is printed (`--dry-run`), unit-tested, and executed by `runPlan` step by step.
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
}

/** The repository root: `make fault` runs there, wherever `npm run experiment` was started. */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export const localPorts = {
  ingress: 18080,
  prometheus: 19090,
  recipeApi: 14000,
  admin: { 'web-api': 19464, 'recipe-api': 19465 } as Record<ServiceName, number>,
};

/** What a setup or restore command changes: the Istio resources, Redis' config, recipe-api's env. */
export type K8sScope = 'mesh' | 'redis' | 'app-env';

export type K8sStep =
  | { kind: 'port-forward'; describe: string; argv: string[]; localPort: number }
  | { kind: 'command'; phase: 'setup' | 'restore'; scope: K8sScope; describe: string; argv: string[]; stdin?: string }
  | { kind: 'command'; phase: 'evidence'; describe: string; argv: string[]; stdin?: string }
  | { kind: 'http'; phase: 'setup' | 'restore'; describe: string; method: 'PUT' | 'DELETE'; url: string; body?: string }
  | { kind: 'load'; describe: string; url: string; durationS: number }
  | { kind: 'query'; describe: string /** The signal's key. */; name: string; promql: string };

export interface K8sPlan {
  experiment: string;
  mode: 'incident' | 'fix';
  fixVariant: string | null;
  namespace: string;
  cluster: KubeAccess;
  /** The Redis settings the setup changes, read back after the restore. */
  redisConfigKeys: string[];
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

function setupSteps(setup: Setup, ns: string, cmd: Commands): { apply: K8sStep[]; undo: K8sStep[] } {
  const apply: K8sStep[] = [];
  const undo: K8sStep[] = [];
  for (const [service, doc] of Object.entries(setup.appFaults) as [ServiceName, object][]) {
    const url = `http://127.0.0.1:${localPorts.admin[service]}/faults`;
    if (Object.keys(doc).length === 0) {
      apply.push({ kind: 'http', phase: 'setup', describe: `${service}: clear app faults`, method: 'DELETE', url });
    } else {
      apply.push({
        kind: 'http',
        phase: 'setup',
        describe: `${service}: app faults ${JSON.stringify(doc)}`,
        method: 'PUT',
        url,
        body: JSON.stringify(doc),
      });
    }
    undo.push({ kind: 'http', phase: 'restore', describe: `${service}: clear app faults`, method: 'DELETE', url });
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
  // Startup settings first: `set env` rolls recipe-api's pods, which would end port-forwards to them.
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
      describe: 'web-api admin port',
      argv: cmd.kubectl('-n', ns, 'port-forward', 'deploy/web-api', `${localPorts.admin['web-api']}:http-admin`),
      localPort: localPorts.admin['web-api'],
    },
    {
      kind: 'port-forward',
      describe: 'recipe-api admin port',
      argv: cmd.kubectl('-n', ns, 'port-forward', 'deploy/recipe-api', `${localPorts.admin['recipe-api']}:http-admin`),
      localPort: localPorts.admin['recipe-api'],
    },
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
  if (experiment.k8sLoad.via === 'ingress') {
    steps.push({
      kind: 'port-forward',
      describe: 'Istio ingress gateway',
      argv: cmd.kubectl('-n', istioNs, 'port-forward', 'svc/istio-ingressgateway', `${localPorts.ingress}:80`),
      localPort: localPorts.ingress,
    });
  } else {
    steps.push({
      kind: 'port-forward',
      describe: 'recipe-api traffic port',
      argv: cmd.kubectl('-n', ns, 'port-forward', 'deploy/recipe-api', `${localPorts.recipeApi}:http`),
      localPort: localPorts.recipeApi,
    });
  }
  const { apply, undo } = setupSteps(setup, ns, cmd);
  steps.push(...apply);
  const base =
    experiment.k8sLoad.via === 'ingress'
      ? `http://127.0.0.1:${localPorts.ingress}`
      : `http://127.0.0.1:${localPorts.recipeApi}`;
  steps.push({
    kind: 'load',
    describe: experiment.k8sLoad.describe,
    url: `${base}${experiment.k8sLoad.path}`,
    durationS: options.durationS,
  });
  for (const query of k8sSignals(experiment).queries)
    steps.push({
      kind: 'query',
      describe: query.title,
      name: query.key,
      promql: fillQuery(query.promql, ns, window),
    });
  steps.push({
    kind: 'command',
    phase: 'evidence',
    describe: "recipe-api sidecar's access log (Istio text format)",
    argv: cmd.kubectl('-n', ns, 'logs', 'deploy/recipe-api', '-c', 'istio-proxy', `--since=${window}`),
  });
  steps.push(...undo.reverse());
  for (const key of Object.keys(experiment.labAppEnv ?? {})) {
    steps.push({
      kind: 'command',
      phase: 'restore',
      scope: 'app-env',
      describe: `recipe-api without ${key}`,
      argv: cmd.kubectl('-n', ns, 'set', 'env', 'deploy/recipe-api', `${key}-`),
    });
  }
  return {
    experiment: experiment.name,
    mode: options.fix ? 'fix' : 'incident',
    fixVariant: options.fix?.name ?? null,
    namespace: ns,
    cluster: options.cluster,
    redisConfigKeys: Object.keys(setup.redisConfig ?? {}),
    steps,
  };
}

const shell = (argv: string[]) =>
  argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(' ');

/** The plan as a person would type it. */
export function renderPlan(plan: K8sPlan): string {
  const lines = [
    `# ${plan.experiment} on Kubernetes (${plan.mode}${plan.fixVariant ? `: ${plan.fixVariant}` : ''}), namespace ${plan.namespace}`,
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
      case 'http':
        lines.push(
          shell([
            'curl',
            '-sS',
            '-X',
            step.method,
            ...(step.body ? ['-H', 'content-type: application/json', '--data', step.body] : []),
            step.url,
          ]),
        );
        break;
      case 'load':
        lines.push(`# load for ${step.durationS} s against ${step.url}`);
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

/** What a run may change, read from the cluster through the plan's port-forwards and kubectl. */
async function readK8sState(plan: K8sPlan): Promise<K8sState> {
  const { kubectl } = commandsFor(plan.cluster, undefined);
  const ns = plan.namespace;
  const redisConfig: Record<string, string> = {};
  for (const key of plan.redisConfigKeys)
    redisConfig[key] = redisConfigValue(
      await runCommand(kubectl('-n', ns, 'exec', 'deploy/redis', '--', 'redis-cli', 'CONFIG', 'GET', key)),
    );
  return {
    faults: {
      'web-api': await getFaults(`http://127.0.0.1:${localPorts.admin['web-api']}`),
      'recipe-api': await getFaults(`http://127.0.0.1:${localPorts.admin['recipe-api']}`),
    },
    istio: istioSpecs(await runCommand(kubectl('-n', ns, 'get', patchedIstioKinds, '-o', 'json'))),
    redisConfig,
  };
}

/**
 * Executes a plan against its cluster: startup settings, port-forwards, setup, load, a wait until
 * Prometheus has scraped every target after the load, queries, the access log, restore (also on
 * failure and Ctrl-C), then the state read back and compared with before the setup. Returns the
 * exit code: 0 when the verdict matches the expectation and nothing was left behind.
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
  const forwards: ChildProcess[] = [];
  restore.push('stop the port-forwards', async () => {
    for (const f of forwards) f.kill('SIGTERM');
  });
  const restoreSteps = plan.steps.filter(
    (s): s is Extract<K8sStep, { kind: 'command' | 'http' }> =>
      (s.kind === 'command' || s.kind === 'http') && s.phase === 'restore',
  );
  const register = (steps: typeof restoreSteps) => {
    // Pushed newest-last in reverse plan order, so the stack runs them in plan order.
    for (const step of [...steps].reverse())
      restore.push(step.describe, async () => {
        restoreBeganMs ??= Date.now();
        if (step.kind === 'command') await runCommand(step.argv, step.stdin);
        else await fetch(step.url, { method: step.method, headers: adminHeaders() });
      });
  };
  // Every undo is registered up front (undoing what was never applied is harmless: DELETE,
  // make fault-clear, CONFIG SET to the default), so a failure half-way still restores it all.
  // The startup settings go last, after the state is read back: removing them rolls the pods
  // the port-forwards reach.
  let restoreBeganMs: number | null = null;
  let before: K8sState | null = null;
  let leftovers: LeftoverReport = leftoversNotChecked;
  const isStartup = (s: K8sStep) => s.kind === 'command' && s.phase !== 'evidence' && s.scope === 'app-env';
  register(restoreSteps.filter(isStartup));
  restore.push('read the state back', async () => {
    if (before) leftovers = compareK8sState(before, await readK8sState(plan));
  });
  register(restoreSteps.filter((s) => !isStartup(s)));

  const evidence: K8sEvidence = { queries: [], accessLog: [], accessLogCounts: {}, load: [] };
  let setupBeganMs: number | null = null;
  let verdict: Verdict | null = null;
  let restoreFailures: string[] = [];
  try {
    for (const step of plan.steps) {
      log(step.describe);
      if ((step.kind === 'command' || step.kind === 'http') && step.phase === 'setup' && !isStartup(step)) {
        before ??= await readK8sState(plan);
        setupBeganMs ??= Date.now();
      }
      if (step.kind === 'port-forward') {
        forwards.push(spawn(step.argv[0]!, step.argv.slice(1), { stdio: 'ignore' }));
        await waitForPort(step.localPort);
      } else if ((step.kind === 'command' || step.kind === 'http') && step.phase === 'restore') {
        // registered on the restore stack above
      } else if (step.kind === 'command') {
        const out = await runCommand(step.argv, step.stdin);
        if (step.phase === 'evidence') {
          Object.assign(evidence, accessLogEvidence(out));
          for (const l of evidence.accessLog.slice(0, 5)) log(`  ${l}`);
        }
      } else if (step.kind === 'http') {
        const res = await fetch(step.url, {
          method: step.method,
          headers: { 'content-type': 'application/json', ...adminHeaders() },
          ...(step.body ? { body: step.body } : {}),
        });
        if (!res.ok) throw new Error(`${step.method} ${step.url}: ${res.status} ${await res.text()}`);
      } else if (step.kind === 'load') {
        const url = new URL(step.url);
        const load: LoadResult = await runLoad({
          baseUrl: url.origin,
          path: url.pathname + url.search,
          mode: { kind: 'concurrency', connections: 8 },
          durationMs: step.durationS * 1000,
        });
        evidence.load = load.records;
        // Every target scraped after the load ended: the queries then see all of it (no guessed sleep).
        log('waiting for Prometheus to scrape every target once more…');
        await waitForScrape(`http://127.0.0.1:${localPorts.prometheus}`, Date.now(), { timeoutMs: 60_000 });
      } else if (step.kind === 'query') {
        const value = await promQuery(`http://127.0.0.1:${localPorts.prometheus}`, step.promql);
        evidence.queries.push({ name: step.name, promql: step.promql, value });
        log(`  ${step.describe} = ${value ?? 'no data'}`);
      }
    }
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

/** The admin port's token (ADMIN_TOKEN, docs/contracts.md), as the lab target sends it. */
function adminHeaders(): Record<string, string> {
  return process.env.ADMIN_TOKEN ? { authorization: `Bearer ${process.env.ADMIN_TOKEN}` } : {};
}
