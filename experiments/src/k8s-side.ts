import { type AccessLogEntry, isUpstreamConnectionTermination } from '@recipe-mesh/measure/access-log';
import type { RequestRecord } from '@recipe-mesh/measure/requests';
import { pacedLoad } from './load/paced.js';
import type { ServiceName } from './definition.js';
import { recipeApiOutboundCluster, sumRetries } from './evidence/envoy-stats.js';

/**
 * What an experiment declares for `--target k8s` beside its lab run (docs/experiments.md, "Lab and
 * cluster side by side"): the load, built from the same load modules as the lab's (load/*), how
 * its app faults reach every pod, and how each signal is counted exactly from evidence both
 * targets have in the same form — the sidecars' access logs in Istio's TEXT format (parsed by the
 * the shared parser, measure/src/access-log.ts), each pod's admin metrics, and the load's own
 * records. A signal without an exact reading here is read with its PromQL alone.
 */

/** Whose `istio-proxy` logs a reading counts: a service's sidecars, or the ingress gateway. */
export type Workload = ServiceName | 'ingress';

/** What a k8s load may use; everything it reaches goes through 127.0.0.1 or the ingress address. */
export interface K8sLoadContext {
  /** `http://<ingress gateway address>[:port]`: the load's way in (k8s-ingress.ts). */
  ingress: string;
  durationS: number;
  log(line: string): void;
  /** kubectl in the run's namespace, pinned to the run's kubeconfig and context. */
  kubectl(args: string[], stdin?: string): Promise<string>;
  /**
   * `http://127.0.0.1:<port>` forwarded to a named port of one pod of `service` (kubectl
   * port-forward pod/…), for traffic the ingress has no route for; stopped with the run.
   */
  podUrl(service: ServiceName | 'redis', port: string): Promise<string>;
  /** Registers an undo for something the load changed (seeded keys…), run at restore. */
  onRestore(label: string, undo: () => Promise<void>): void;
}

export interface K8sLoad {
  describe: string;
  drive(ctx: K8sLoadContext): Promise<RequestRecord[]>;
}

/** How one signal is counted from the exact evidence. */
export type ExactReading =
  | {
      from: 'access-log';
      workload: Workload;
      describe: string;
      where: (entry: AccessLogEntry) => boolean;
    }
  | {
      from: 'client';
      describe: string;
      reduce: (records: readonly RequestRecord[]) => number | null;
    }
  | {
      /**
       * Counters of each pod's Envoy admin (`/stats?filter=`, port 15000, which Istio binds to the
       * pod's localhost and a port-forward reaches), what moved over the load, summed over the pods
       * of every workload named. Complete, unlike the stats Istio exports to Prometheus by default.
       */
      from: 'envoy-stats';
      workloads: Workload[];
      filter: string;
      describe: string;
      reduce: (moved: Record<string, number>) => number;
    }
  | {
      /** A counter's rise over the load, summed over the pods of `service` (each pod's own /metrics). */
      from: 'metric';
      service: ServiceName;
      family: string;
      labels?: Record<string, string>;
      describe: string;
    };

export interface K8sSide<S extends string = string> {
  load: K8sLoad;
  /**
   * How app faults reach every pod: `admin-port` (default) PUTs /faults on each pod through its
   * own port-forward; `env` sets the documented FAULTS variable on the Deployment and waits for
   * the rollout, for a fault that must survive the pods the run itself replaces.
   */
  appFaultsBy?: 'admin-port' | 'env';
  /**
   * Services whose preStop hook the incident run removes (a patch of the Deployment, put back at
   * restore): a preStop sleep is itself the usual fix of what the incident shows.
   */
  incidentWithoutPreStop?: ServiceName[];
  exact: Partial<Record<S, ExactReading>>;
}

/** Istio's inbound cluster to recipe-api's HTTP port (`inbound|4000||`), as the lab's sidecars name it too. */
export const isRecipeApiInbound = (e: AccessLogEntry) => (e.upstreamCluster ?? '').startsWith('inbound|4000||');
/** …and to web-api's (`inbound|3000||`). */
export const isWebApiInbound = (e: AccessLogEntry) => (e.upstreamCluster ?? '').startsWith('inbound|3000||');

/**
 * A request web-api's sidecar lost because web-api closed the pooled connection it came on (503
 * UC, connection_termination, inbound): 503-uc's race on the hop before recipe-api, which a starved
 * machine shows now and then whatever else a run does.
 */
export const isWebApiIdleClose = (e: AccessLogEntry) => isWebApiInbound(e) && isUpstreamConnectionTermination(e);

/** Those lines in every web-api pod's sidecar log. */
export const webApiIdleClosesOfPods: ExactReading = {
  from: 'access-log',
  workload: 'web-api',
  describe: "web-api pods' sidecar logs, inbound 503 UC connection_termination",
  where: isWebApiIdleClose,
};

/** Requests the caller saw fail: not 2xx, or no answer at all (as the lab counts its phases' outcomes). */
export const callerFailures: ExactReading = {
  from: 'client',
  describe: "the load's own records, non-2xx or no answer",
  reduce: (records) => records.filter((r) => r.status < 200 || r.status > 299).length,
};

/** Lines of web-api's sidecars on the outbound cluster to recipe-api (Istio's name, the lab's too) matching `where`. */
export function webApiToRecipeApi(describe: string, where: (e: AccessLogEntry) => boolean = () => true): ExactReading {
  return {
    from: 'access-log',
    workload: 'web-api',
    describe: `web-api pods' sidecar logs, outbound to recipe-api${describe ? `, ${describe}` : ''}`,
    where: (e) => (e.upstreamCluster ?? '').startsWith(recipeApiOutboundCluster) && where(e),
  };
}

/** Lines of recipe-api's sidecars on the inbound cluster matching `where`. */
export function recipeApiInboundLines(
  describe: string,
  where: (e: AccessLogEntry) => boolean = () => true,
): ExactReading {
  return {
    from: 'access-log',
    workload: 'recipe-api',
    describe: `recipe-api pods' sidecar logs, inbound${describe ? `, ${describe}` : ''}`,
    where: (e) => isRecipeApiInbound(e) && where(e),
  };
}

/**
 * The lab's steady load of several experiments, through the ingress gateway: `lanes` paced lanes
 * of GET /api/recipes/:id?via=http at `ratePerSecond` in all (load/paced.ts), for the run's
 * duration and, with `until`, until that drill settles.
 */
export function recipeReadsThroughIngress(
  ctx: K8sLoadContext,
  options: { ratePerSecond: number; lanes: number; until?: Promise<unknown> },
): Promise<RequestRecord[]> {
  return pacedLoad({
    request: (i) => ({ url: `${ctx.ingress}/api/recipes/${40 + (i % 10)}?via=http` }),
    ratePerSecond: options.ratePerSecond,
    lanes: options.lanes,
    durationMs: ctx.durationS * 1000,
    until: options.until,
  });
}

/** recipe-api's Redis GETs, counted from every pod's own /metrics over the load. */
export const redisGetsOfPods: ExactReading = {
  from: 'metric',
  service: 'recipe-api',
  family: 'redis_command_duration_seconds_count',
  labels: { command: 'get' },
  describe: 'redis_command_duration_seconds_count{command="get"} of every recipe-api pod, before → after the load',
};

/** The retries Envoy made, as the lab sums them (`cluster.<name>.upstream_rq_retry`), over the workloads' sidecars. */
export function envoyRetriesOf(workloads: Workload[]): ExactReading {
  return {
    from: 'envoy-stats',
    workloads,
    filter: 'upstream_rq_retry',
    describe: `upstream_rq_retry of every ${workloads.join(' and ')} pod's Envoy admin, before → after the load`,
    reduce: sumRetries,
  };
}

/** One stat of web-api's sidecars' cluster to recipe-api (what the lab's `recipeApiOutboundStat` reads). */
export function webApiOutboundStat(stat: string): ExactReading {
  const name = `cluster.${recipeApiOutboundCluster}.${stat}`;
  return {
    from: 'envoy-stats',
    workloads: ['web-api'],
    filter: stat,
    describe: `${stat} of every web-api pod's Envoy admin, cluster to recipe-api, before → after the load`,
    reduce: (moved) => moved[name] ?? 0,
  };
}
