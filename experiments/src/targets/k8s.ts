import { spawn, type ChildProcess } from 'node:child_process';
import { runLoad } from '@recipe-mesh/lab/load/load';
import { meshNamespace } from '@recipe-mesh/lab/mesh/namespace';
import { waitForScrape } from '@recipe-mesh/lab/panels/scrape';
import { portIsOpen, waitFor } from '@recipe-mesh/measure/net';
import type { Experiment, Fix, ServiceName, Setup, Verdict } from '../definition.js';
import { RestoreStack } from '../restore.js';
import { decide, signalEntries } from '../verdict.js';

/**
 * `--target k8s`: the same experiment definition against the minikube deployment with Istio —
 * app faults through the admin port (kubectl port-forward), mesh faults as the Istio resources of
 * the setup (kubectl apply), Redis config with redis-cli in its pod, signals as PromQL. The plan
 * is data, so it is printed (`--dry-run`), unit-tested, and executed by `runPlan` step by step.
 */

export interface K8sOptions {
  fix: Fix | null;
  /** Default: the manifests' namespace (k8s/base/kustomization.yaml), where every object of the platform runs. */
  namespace?: string;
  durationS: number;
  /** Where Istio's ingress gateway runs (`make istio-install`: istio-system). */
  istioNamespace?: string;
  /** Default: the observability component's Prometheus, deployed with the platform in its namespace. */
  prometheus?: { namespace: string; service: string; port: number };
}

export const localPorts = {
  ingress: 18080,
  prometheus: 19090,
  recipeApi: 14000,
  admin: { 'web-api': 19464, 'recipe-api': 19465 } as Record<ServiceName, number>,
};

export type K8sStep =
  | { kind: 'port-forward'; describe: string; argv: string[]; localPort: number }
  | { kind: 'command'; phase: 'setup' | 'restore' | 'evidence'; describe: string; argv: string[]; stdin?: string }
  | { kind: 'http'; phase: 'setup' | 'restore'; describe: string; method: 'PUT' | 'DELETE'; url: string; body?: string }
  | { kind: 'load'; describe: string; url: string; durationS: number }
  | { kind: 'query'; describe: string /** The signal's key. */; name: string; promql: string };

export interface K8sPlan {
  experiment: string;
  mode: 'incident' | 'fix';
  fixVariant: string | null;
  namespace: string;
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

function setupSteps(setup: Setup, ns: string): { apply: K8sStep[]; undo: K8sStep[] } {
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
      describe: `apply istio/faults/${component} on top of the platform`,
      argv: ['make', 'fault', `FAULT=${component}`],
    });
    undo.push({
      kind: 'command',
      phase: 'restore',
      describe: `re-apply the platform without istio/faults/${component}`,
      argv: ['make', 'fault-clear'],
    });
  }
  for (const [key, value] of Object.entries(setup.redisConfig ?? {})) {
    apply.push({
      kind: 'command',
      phase: 'setup',
      describe: `redis ${key} ${value}`,
      argv: ['kubectl', '-n', ns, 'exec', 'deploy/redis', '--', 'redis-cli', 'CONFIG', 'SET', key, value],
    });
    undo.push({
      kind: 'command',
      phase: 'restore',
      describe: `redis ${key} back to its default`,
      argv: [
        'kubectl',
        '-n',
        ns,
        'exec',
        'deploy/redis',
        '--',
        'redis-cli',
        'CONFIG',
        'SET',
        key,
        redisDefaults[key] ?? value,
      ],
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
  const steps: K8sStep[] = [
    {
      kind: 'port-forward',
      describe: 'web-api admin port',
      argv: ['kubectl', '-n', ns, 'port-forward', 'deploy/web-api', `${localPorts.admin['web-api']}:http-admin`],
      localPort: localPorts.admin['web-api'],
    },
    {
      kind: 'port-forward',
      describe: 'recipe-api admin port',
      argv: ['kubectl', '-n', ns, 'port-forward', 'deploy/recipe-api', `${localPorts.admin['recipe-api']}:http-admin`],
      localPort: localPorts.admin['recipe-api'],
    },
    {
      kind: 'port-forward',
      describe: 'Prometheus',
      argv: [
        'kubectl',
        '-n',
        prom.namespace,
        'port-forward',
        `svc/${prom.service}`,
        `${localPorts.prometheus}:${prom.port}`,
      ],
      localPort: localPorts.prometheus,
    },
  ];
  if (experiment.k8sLoad.via === 'ingress') {
    steps.push({
      kind: 'port-forward',
      describe: 'Istio ingress gateway',
      argv: ['kubectl', '-n', istioNs, 'port-forward', 'svc/istio-ingressgateway', `${localPorts.ingress}:80`],
      localPort: localPorts.ingress,
    });
  } else {
    steps.push({
      kind: 'port-forward',
      describe: 'recipe-api traffic port',
      argv: ['kubectl', '-n', ns, 'port-forward', 'deploy/recipe-api', `${localPorts.recipeApi}:http`],
      localPort: localPorts.recipeApi,
    });
  }
  for (const [key, value] of Object.entries(experiment.labAppEnv ?? {})) {
    steps.push({
      kind: 'command',
      phase: 'setup',
      describe: `recipe-api started with ${key}=${value}`,
      argv: ['kubectl', '-n', ns, 'set', 'env', 'deploy/recipe-api', `${key}=${value}`],
    });
    steps.push({
      kind: 'command',
      phase: 'setup',
      describe: 'wait for the rollout',
      argv: ['kubectl', '-n', ns, 'rollout', 'status', 'deploy/recipe-api', '--timeout=120s'],
    });
  }
  const { apply, undo } = setupSteps(setup, ns);
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
  for (const { key, signal } of signalEntries(experiment)) {
    if (signal.promql)
      steps.push({
        kind: 'query',
        describe: signal.title,
        name: key,
        promql: fillQuery(signal.promql, ns, window),
      });
  }
  steps.push({
    kind: 'command',
    phase: 'evidence',
    describe: "recipe-api sidecar's access log (Istio text format)",
    argv: ['kubectl', '-n', ns, 'logs', 'deploy/recipe-api', '-c', 'istio-proxy', `--since=${window}`],
  });
  steps.push(...undo.reverse());
  for (const key of Object.keys(experiment.labAppEnv ?? {})) {
    steps.push({
      kind: 'command',
      phase: 'restore',
      describe: `recipe-api without ${key}`,
      argv: ['kubectl', '-n', ns, 'set', 'env', 'deploy/recipe-api', `${key}-`],
    });
  }
  return {
    experiment: experiment.name,
    mode: options.fix ? 'fix' : 'incident',
    fixVariant: options.fix?.name ?? null,
    namespace: ns,
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

/** Runs one command; resolves with its stdout, rejects with stderr on a non-zero exit. */
function run(argv: string[], stdin?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
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

async function promQuery(promql: string): Promise<number | null> {
  const res = await fetch(`http://127.0.0.1:${localPorts.prometheus}/api/v1/query?query=${encodeURIComponent(promql)}`);
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
 * Executes a plan against the current kube context: port-forwards, setup, load, a wait until
 * Prometheus has scraped every target after the load, queries, restore (also on failure and Ctrl-C). Returns the exit code: 0 when the
 * experiment's k8s verdict matches the expectation.
 */
export async function runPlan(
  plan: K8sPlan,
  experiment: Experiment<unknown>,
  options: { log: (line: string) => void },
): Promise<{ code: number; verdict: Verdict | null; values: Record<string, number | null> }> {
  const { log } = options;
  const restore = new RestoreStack();
  const removeSignals = restore.restoreOnSignals(log);
  const forwards: ChildProcess[] = [];
  restore.push('stop the port-forwards', async () => {
    for (const f of forwards) f.kill('SIGTERM');
  });
  // Every undo is registered up front (undoing what was never applied is harmless: DELETE, delete
  // --ignore-not-found, CONFIG SET to the default), so a failure half-way still restores it all.
  // Pushed newest-last in reverse plan order, so the stack runs them in plan order.
  for (const step of [...plan.steps].reverse()) {
    if ((step.kind === 'command' || step.kind === 'http') && step.phase === 'restore') {
      restore.push(step.describe, async () => {
        if (step.kind === 'command') await run(step.argv, step.stdin);
        else await fetch(step.url, { method: step.method });
      });
    }
  }
  const values: Record<string, number | null> = {};
  let verdict: Verdict | null = null;
  try {
    for (const step of plan.steps) {
      log(step.describe);
      if (step.kind === 'port-forward') {
        forwards.push(spawn(step.argv[0]!, step.argv.slice(1), { stdio: 'ignore' }));
        await waitForPort(step.localPort);
      } else if (step.kind === 'command' && step.phase === 'restore') {
        // registered on the restore stack above
      } else if (step.kind === 'command') {
        const out = await run(step.argv, step.stdin);
        if (step.phase === 'evidence') {
          const lines = out
            .split('\n')
            .filter((l) => / (UC|UF|URX|DC|UT) /.test(l))
            .slice(0, 5);
          for (const l of lines) log(`  ${l}`);
        }
      } else if (step.kind === 'http' && step.phase === 'restore') {
        // registered on the restore stack above
      } else if (step.kind === 'http') {
        const res = await fetch(step.url, {
          method: step.method,
          headers: {
            'content-type': 'application/json',
            ...(process.env.ADMIN_TOKEN ? { authorization: `Bearer ${process.env.ADMIN_TOKEN}` } : {}),
          },
          ...(step.body ? { body: step.body } : {}),
        });
        if (!res.ok) throw new Error(`${step.method} ${step.url}: ${res.status} ${await res.text()}`);
      } else if (step.kind === 'load') {
        const url = new URL(step.url);
        await runLoad({
          baseUrl: url.origin,
          path: url.pathname + url.search,
          mode: { kind: 'concurrency', connections: 8 },
          durationMs: step.durationS * 1000,
        });
        // Every target scraped after the load ended: the queries then see all of it (no guessed sleep).
        log('waiting for Prometheus to scrape every target once more…');
        await waitForScrape(`http://127.0.0.1:${localPorts.prometheus}`, Date.now(), { timeoutMs: 60_000 });
      } else if (step.kind === 'query') {
        values[step.name] = await promQuery(step.promql);
        log(`  ${step.name} = ${values[step.name] ?? 'no data'}`);
      }
    }
    verdict = decide(experiment, values);
  } finally {
    // Restore steps were pushed in plan order; the stack runs them newest first, i.e. in reverse.
    const failures = await restore.restoreAll(log);
    for (const f of failures) log(`restore failed: ${f}`);
    removeSignals();
  }
  const held =
    verdict !== null && (plan.mode === 'fix' ? verdict.outcome === 'healthy' : verdict.outcome === 'incident');
  if (verdict) log(`verdict: ${verdict.outcome} — ${verdict.reasons.join('; ')}`);
  return { code: held ? 0 : 1, verdict, values };
}
