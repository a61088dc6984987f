import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { meshNamespace } from '@recipe-mesh/measure/mesh-namespace';
import { parseIngressFlag } from './k8s-ingress.js';
import { minikubeAccess } from './targets/k8s.js';

/**
 * The `current-context` of a kubeconfig given with --kubeconfig and no --context (make
 * cluster-up's has one context, recipe-mesh-test): still named on every command, never left to
 * the tool's default.
 */
function currentContext(kubeconfig: string): string {
  let text: string;
  try {
    text = readFileSync(kubeconfig, 'utf8');
  } catch (error) {
    throw new UsageError(`--kubeconfig ${kubeconfig}: ${(error as Error).message}`);
  }
  const context = (parse(text) as { 'current-context'?: string } | null)?.['current-context'];
  if (!context) throw new UsageError(`--kubeconfig ${kubeconfig} names no current-context: pass --context`);
  return context;
}

export const usage = `usage: npm run experiment -- --list
       npm run experiment -- --all [--duration <s>]    (every experiment without and with each fix; make experiments)
       npm run experiment -- report [<name>]            (HTML: reports/index.html of every run; with a name, latest run without vs with the fix)
       npm run experiment -- <name> [--fix] [--fix-variant <name>] [--target lab|k8s] [--duration <s>] [--json]
options:
  --fix                 run with the experiment's fix (default fix unless --fix-variant)
  --fix-variant <name>  one of the experiment's fixes (see --list); implies --fix
  --target lab|k8s      lab (default): the local lab, started when not up; k8s: minikube with Istio
  --duration <s>        seconds of load under fault (e.g. 20 or 20s)
  --json                print the JSON report instead of the text one
  --keep-lab            leave a lab this run started running afterwards
  --dry-run             print every step without injecting anything; on the lab, also check that every
                        signal's source is there (access logs, metric families, Redis, trace sink)
  --repeat <n>          run it n times and report reproduced k/n with a 95 % interval
  --replicas <n>        a lab this run starts runs n instances of each service instead of the manifests'
                        (fewer for speed; the report says so)
  --namespace <ns>      k8s only (default: ${meshNamespace}, the manifests' namespace)
  --kubeconfig <file>   k8s only: named on every kubectl and make command (default: ${minikubeAccess.kubeconfig}, where make minikube-up writes)
  --context <name>      k8s only (default: the current-context of --kubeconfig when given, else ${minikubeAccess.context}, make minikube-up's profile)
  --ingress <url>       k8s only: the ingress gateway's address, http://<address>[:port] (default: the
                        load-balancer status of istio-system/istio-ingressgateway, which minikube tunnel fills)
exit status: 0 when the expectation held (incident seen without --fix, gone with --fix), 1 when not, 2 on usage errors.`;

export type CliCommand =
  | { kind: 'help' }
  | { kind: 'list' }
  | { kind: 'all'; durationS: number | undefined; keepLab: boolean }
  | { kind: 'report'; name: string | undefined }
  | {
      kind: 'run';
      name: string;
      fix: boolean;
      fixVariant: string | undefined;
      target: 'lab' | 'k8s';
      durationS: number | undefined;
      json: boolean;
      keepLab: boolean;
      dryRun: boolean;
      namespace: string;
      /** The cluster `--target k8s` talks to, named on every command (never a default kubeconfig). */
      kubeconfig: string;
      context: string;
      /** `--ingress`: where the k8s load enters; undefined: the gateway Service's load-balancer status. */
      ingress: string | undefined;
      /** Runs of the same experiment (`--repeat N`), reported as `reproduced k/N`. */
      repeat: number;
      /** Instances of each service in a lab this run starts (default: the manifests' replicas). */
      replicas: number | undefined;
    };

export class UsageError extends Error {}

/** `20`, `20s`, `2.5` → seconds. */
export function parseDuration(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*s?$/.exec(raw.trim());
  if (!m) throw new UsageError(`--duration ${raw}: expected seconds, e.g. 20 or 20s`);
  const seconds = Number(m[1]);
  if (!(seconds > 0)) throw new UsageError('--duration must be positive');
  return seconds;
}

export function parseCli(argv: string[]): CliCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        list: { type: 'boolean' },
        all: { type: 'boolean' },
        fix: { type: 'boolean' },
        'fix-variant': { type: 'string' },
        target: { type: 'string', default: 'lab' },
        duration: { type: 'string' },
        json: { type: 'boolean' },
        'keep-lab': { type: 'boolean' },
        'dry-run': { type: 'boolean' },
        namespace: { type: 'string', default: meshNamespace },
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        ingress: { type: 'string' },
        repeat: { type: 'string', default: '1' },
        replicas: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  if (values.list) return { kind: 'list' };
  if (values.all) {
    if (positionals.length || values.fix || values['fix-variant'] || values.target !== 'lab')
      throw new UsageError('--all runs every experiment and fix on the lab; it takes only --duration and --keep-lab');
    return { kind: 'all', durationS: parseDuration(values.duration), keepLab: values['keep-lab'] ?? false };
  }
  if (positionals[0] === 'report') {
    if (positionals.length > 2) throw new UsageError(`unexpected arguments: ${positionals.slice(2).join(' ')}`);
    return { kind: 'report', name: positionals[1] };
  }
  const name = positionals[0];
  if (!name) throw new UsageError('name an experiment (see --list)');
  if (positionals.length > 1) throw new UsageError(`unexpected arguments: ${positionals.slice(1).join(' ')}`);
  if (values.target !== 'lab' && values.target !== 'k8s')
    throw new UsageError(`--target ${values.target}: expected lab or k8s`);
  if ((values.kubeconfig || values.context || values.ingress) && values.target !== 'k8s')
    throw new UsageError('--kubeconfig, --context and --ingress apply to --target k8s');
  let ingress: string | undefined;
  try {
    ingress = values.ingress === undefined ? undefined : parseIngressFlag(values.ingress);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const repeat = Number(values.repeat ?? '1');
  if (!Number.isInteger(repeat) || repeat < 1)
    throw new UsageError(`--repeat ${values.repeat}: expected a whole number ≥ 1`);
  const replicas = values.replicas === undefined ? undefined : Number(values.replicas);
  if (replicas !== undefined && (!Number.isInteger(replicas) || replicas < 1))
    throw new UsageError(`--replicas ${values.replicas}: expected a whole number ≥ 1`);
  return {
    kind: 'run',
    name,
    fix: Boolean(values.fix || values['fix-variant']),
    fixVariant: values['fix-variant'],
    target: values.target,
    durationS: parseDuration(values.duration),
    json: values.json ?? false,
    keepLab: values['keep-lab'] ?? false,
    dryRun: values['dry-run'] ?? false,
    namespace: values.namespace ?? meshNamespace,
    kubeconfig: values.kubeconfig ?? minikubeAccess.kubeconfig,
    context: values.context ?? (values.kubeconfig ? currentContext(values.kubeconfig) : minikubeAccess.context),
    ingress,
    repeat,
    replicas,
  };
}
