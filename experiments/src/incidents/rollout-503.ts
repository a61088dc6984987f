import { readFileSync } from 'node:fs';
import { recipeApiOutboundCluster } from '../evidence/envoy-stats.js';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { countByStatusAndFlag, type AccessLogEntry } from '@recipe-mesh/measure/access-log';
import type { Experiment, JudgeInput, PhaseLoad, Setup, SignalValues, Signals, Verdict } from '../definition.js';
import { pacedLoad } from '../load/paced.js';
import { phaseFromRecords } from '../load/phase.js';
import {
  callerNon2xx,
  webApiIdleCloses,
  webApiToRecipeApiRequests,
  webApiToRecipeApiWhere,
} from '../shared-signals.js';
import { putFaults } from '@recipe-mesh/measure/admin-client';
import { pause } from '@recipe-mesh/measure/net';
import {
  callerFailures,
  isWebApiIdleClose,
  recipeReadsThroughIngress,
  webApiIdleClosesOfPods,
  webApiToRecipeApi,
} from '../k8s-side.js';
import { repoRoot } from '@recipe-mesh/measure/repo';

/**
 * 503s during every deploy: a rolling update replaces pods while traffic flows. A pod that exits
 * on SIGTERM at once drops the requests it is serving, and callers keep sending to it until the
 * endpoint change reaches their sidecars, so they see resets and 503 UC/UF/URX. Graceful shutdown
 * — readiness fails at SIGTERM, a drain delay longer than the endpoint propagation, in-flight
 * requests finish — (and the `preStop` sleep on Kubernetes) makes the same rollout lossless.
 */

const deploymentFile = 'k8s/base/deployment-recipe-api.yaml';
/** Replicas of recipe-api during the run, as k8s/base runs it. */
export const instances = 2;
/** Pods replaced one after another (maxSurge 1, maxUnavailable 0). */
export const replacements = 2;
const lanes = 8;
const ratePerSecond = 120;
export const minOutboundRequests = 100;
/** increase() extrapolates over the scrape window, so one event can read 0.9 on Prometheus. */
const atLeastOne = 0.5;

export interface RolloutEvidence {
  baseline: PhaseLoad;
  duringRollout: PhaseLoad;
  /** Each replacement: the instance started, the one removed, and how long the removed one took to exit. */
  steps: { started: string; removed: string; preStopMs: number | null; exitedAfterMs: number | null }[];
  /** web-api's sidecar → recipe-api lines during the rollout, by `status flags`. */
  outbound: { total: number; byStatusFlag: Record<string, number> };
  failures: AccessLogEntry[];
  /** Requests that failed without an HTTP answer at the caller (connection reset or refused). */
  callerConnectionErrors: number;
  /**
   * web-api's sidecar lines where web-api closed an idle keep-alive connection as a request
   * arrived on it (503 UC, connection_termination, inbound): 503-uc's race on the hop before
   * recipe-api, which the rollout does not touch.
   */
  webApiIdleCloses: AccessLogEntry[];
}

const non2xx = (p: PhaseLoad) =>
  Object.entries(p.byStatusFlag)
    .filter(([k]) => !k.startsWith('2'))
    .reduce((n, [, v]) => n + v, 0);

export const rolloutSignals = {
  required: {
    outbound5xx: webApiToRecipeApiWhere(
      "5xx between web-api's sidecar and recipe-api during the rollout",
      'response_code=~"5.."',
      'status 5xx (UC, UF, URX…)',
    ),
    outboundRequests: webApiToRecipeApiRequests,
    callerFailures: {
      ...callerNon2xx,
      title: 'failed requests the caller saw (non-2xx or no answer)',
      unit: 'requests',
    },
    webApiIdleCloses,
  },
  optional: {},
} satisfies Signals<string, string>;
type RolloutRequired = keyof typeof rolloutSignals.required;

export function readRolloutSignals(e: RolloutEvidence): SignalValues<RolloutRequired, never> {
  return {
    outbound5xx: e.failures.length,
    outboundRequests: e.outbound.total,
    callerFailures: non2xx(e.duringRollout),
    webApiIdleCloses: e.webApiIdleCloses.length,
  };
}

export function judgeRollout(v: JudgeInput<RolloutRequired, never>): Verdict {
  // A caller failure that web-api's own keep-alive close explains is 503-uc's incident on the hop
  // before recipe-api (KEEP_ALIVE_TIMEOUT_MS below the sidecar's idle timeout, docs/experiments.md),
  // which a starved machine shows now and then whatever the rollout does.
  const unexplained = Math.max(0, v.callerFailures - v.webApiIdleCloses);
  const reasons = [
    `${Math.round(v.outbound5xx)} of ${Math.round(v.outboundRequests)} requests from web-api's sidecar to recipe-api failed with 5xx during the rollout; the caller saw ${Math.round(v.callerFailures)} failed`,
    ...(v.webApiIdleCloses >= atLeastOne
      ? [
          `${Math.round(v.webApiIdleCloses)} of them web-api's idle keep-alive close at its own sidecar (503 UC inbound: 503-uc's race, not the rollout)`,
        ]
      : []),
  ];
  if (v.outbound5xx >= atLeastOne || unexplained >= atLeastOne) return { outcome: 'incident', reasons };
  if (v.outboundRequests < minOutboundRequests)
    return {
      outcome: 'inconclusive',
      reasons: [...reasons, `fewer than ${minOutboundRequests} requests: too little load`],
    };
  return { outcome: 'healthy', reasons };
}

/**
 * The incident removes the Deployment's preStop sleep as well as graceful shutdown: the sleep
 * alone lets the endpoint be withdrawn before SIGTERM (it is itself the usual fix), so with it
 * an abrupt exit loses nothing and the incident would not appear. The fix restores both.
 */
const setup = (graceful: boolean): Setup => ({
  describe: [
    `recipe-api runs ${instances} instances (readiness-driven endpoints, as a Deployment with 2 replicas)`,
    graceful
      ? "graceful shutdown on every instance (the default): readiness fails at SIGTERM, a drain delay longer than the endpoint propagation, in-flight requests finish; the Deployment's preStop sleep runs before SIGTERM"
      : 'graceful shutdown off on every instance (PUT /faults {"gracefulShutdown":false}): SIGTERM exits at once; and the Deployment\'s preStop sleep removed (lifecycle.preStop), so SIGTERM comes as soon as the pod is deleted',
  ],
  appFaults: { 'recipe-api': graceful ? {} : { gracefulShutdown: false } },
  mesh: [],
  ...(graceful ? {} : { withoutPreStop: ['recipe-api' as const] }),
});

/** The shutdown settings of the Deployment, read from it for the fix (its own comments say why). */
function deploymentShutdownSnippet(): string {
  const deployment = parse(readFileSync(path.join(repoRoot, deploymentFile), 'utf8')) as {
    spec: { template: { spec: { terminationGracePeriodSeconds: number; containers: Container[] } } };
  };
  interface Container {
    name: string;
    env?: { name: string; value?: string }[];
    readinessProbe?: unknown;
    lifecycle?: unknown;
  }
  const pod = deployment.spec.template.spec;
  const app = pod.containers.find((c) => c.name === 'recipe-api') ?? pod.containers[0]!;
  return stringify({
    spec: {
      template: {
        spec: {
          terminationGracePeriodSeconds: pod.terminationGracePeriodSeconds,
          containers: [
            {
              name: app.name,
              env: (app.env ?? []).filter((e) => e.name.startsWith('SHUTDOWN_')),
              readinessProbe: app.readinessProbe,
              lifecycle: app.lifecycle,
            },
          ],
        },
      },
    },
  }).trimEnd();
}

export const rollout503: Experiment<RolloutEvidence, RolloutRequired, never> = {
  name: 'rollout-503',
  title: 'Failed requests during a rolling restart of recipe-api',
  incident: {
    title: 'Kubernetes rolling updates without graceful shutdown (503s and resets on every deploy)',
    source: 'docs/experiments.md; the graceful-shutdown sequence of docs/architecture.md',
  },
  hypothesis: `With ${instances} instances of recipe-api behind readiness-driven endpoints, replacing them one by one under load is lossless only when each old instance keeps serving until callers have dropped it: exiting at SIGTERM drops its in-flight requests and the ones web-api's sidecar still sends it, which fail as 503 UC/UF/URX or resets. With readiness failing at SIGTERM, a drain delay longer than the endpoint propagation and in-flight requests finished, the same rollout fails nothing.`,
  incidentSetup: setup(false),
  fixes: [
    {
      name: 'graceful-shutdown',
      summary:
        'On SIGTERM fail readiness, keep serving for a drain delay longer than the endpoint propagation (plus a preStop sleep on Kubernetes), then stop accepting and finish in-flight requests.',
      setup: setup(true),
      production: [
        {
          kind: 'code-pattern',
          title: 'Node: the shutdown sequence',
          snippet: [
            "process.once('SIGTERM', async () => {",
            '  health.markShuttingDown();            // /readyz fails: endpoints are withdrawn',
            '  await sleep(drainDelayMs);             // longer than the endpoint propagation',
            '  server.close();                        // stop accepting, finish in-flight requests',
            '  await closeIdleAndWait(timeoutMs);     // bounded',
            '  await redis.quit(); await telemetry.shutdown();',
            '});',
          ].join('\n'),
          repoFile: 'services/platform/src/shutdown.ts',
        },
        {
          kind: 'istio-resource',
          title: 'Kubernetes: the Deployment gives the pod time to drain',
          snippet: deploymentShutdownSnippet(),
          repoFile: deploymentFile,
        },
      ],
    },
  ],
  load: {
    describe: `${lanes} lanes of GET /api/recipes/:id?via=http through the ingress at ${ratePerSecond}/s in all: 2 s before, then throughout a rolling restart that replaces recipe-api's added instance ${replacements} times (start a new one, wait until it is ready and in web-api's sidecar endpoints, then SIGTERM and remove the old one), and at least --duration s.`,
    defaultDurationS: 3,
  },
  signals: rolloutSignals,
  labInstances: { 'recipe-api': instances },
  verdictRule: `incident when any request from web-api's sidecar to recipe-api failed with 5xx, or the caller saw a failure, during the rollout; healthy when none of ≥${minOutboundRequests} did`,
  k8s: {
    load: {
      describe: `${lanes} lanes of GET /api/recipes/:id?via=http through the ingress gateway at ${ratePerSecond}/s in all (load/paced.ts, as the lab): 2 s before, then throughout \`kubectl rollout restart deployment/recipe-api\` until \`rollout status\` says done (the Deployment's strategy replaces its ${instances} pods), and at least --duration s`,
      drive: async (ctx) => {
        const rollout = (async () => {
          // The load's shape: traffic flows before the first pod goes.
          await pause(2000);
          ctx.log('kubectl rollout restart deployment/recipe-api');
          await ctx.kubectl(['rollout', 'restart', 'deployment/recipe-api']);
          await ctx.kubectl(['rollout', 'status', 'deployment/recipe-api', '--timeout=180s']);
        })();
        // A rollout that failed to start or finish fails the run instead of reading as no incident.
        const [records] = await Promise.all([
          recipeReadsThroughIngress(ctx, { ratePerSecond, lanes, until: rollout }),
          rollout,
        ]);
        return records;
      },
    },
    // A live PUT /faults dies with the pods the rollout replaces: FAULTS in the pod template outlives them.
    appFaultsBy: 'env',
    incidentWithoutPreStop: ['recipe-api'],
    exact: {
      outbound5xx: webApiToRecipeApi('5xx', (e) => e.responseCode >= 500),
      outboundRequests: webApiToRecipeApi(''),
      callerFailures,
      webApiIdleCloses: webApiIdleClosesOfPods,
    },
  },

  async run(ctx) {
    const { target } = ctx;
    const request = (i: number) => ({
      url: `${target.urls.ingress}/api/recipes/${40 + (i % 10)}?via=http`,
      flagsHeader: target.responseFlagsHeader,
    });
    const load = (durationMs: number, until?: Promise<unknown>) =>
      pacedLoad({ request, ratePerSecond, lanes, durationMs, until });
    ctx.log('baseline: 2 s of load, no rollout');
    const baseline = await load(2000);
    await ctx.applySetup();

    // The lab's first instance keeps serving (its ports are what every other experiment uses), so
    // the rollout replaces the instance the run added, one pod after another.
    const setupDoc = ctx.setup.appFaults['recipe-api'] ?? {};
    const first = target.urls.admin['recipe-api'];
    const steps: RolloutEvidence['steps'] = [];
    const mark = await target.accessLogMark();
    const rollout = (async () => {
      for (let i = 0; i < replacements; i++) {
        const old = (await target.instances.list('recipe-api')).find((x) => x.running && x.adminUrl !== first);
        if (!old) throw new Error('no added recipe-api instance to replace');
        const fresh = await target.instances.start('recipe-api');
        // A new pod runs the same fault document as the rest of the Deployment.
        if (Object.keys(setupDoc).length) await putFaults(fresh.adminUrl, setupDoc);
        const removed = await target.instances.delete(old.name);
        ctx.log(
          `replaced ${old.name} by ${fresh.name} (preStop ${removed?.preStopMs ?? '–'} ms, then the old one exited ${removed?.exitedAfterMs ?? '–'} ms after SIGTERM)`,
        );
        steps.push({
          started: fresh.name,
          removed: old.name,
          preStopMs: removed?.preStopMs ?? null,
          exitedAfterMs: removed?.exitedAfterMs ?? null,
        });
      }
    })();
    ctx.log(`rolling restart of recipe-api (${replacements} replacements) under load`);
    const [records] = await Promise.all([load(ctx.durationS * 1000, rollout), rollout]);
    const answered = records.filter((r) => r.status > 0).length;
    const logs = await target.accessLogWhen(mark, (l) => (l.ingress ?? []).length >= answered, {
      what: `${answered} answered requests logged by the ingress`,
    });
    const outbound = (logs['web-api-sidecar'] ?? []).filter((e) => e.upstreamCluster === recipeApiOutboundCluster);
    return {
      baseline: phaseFromRecords('baseline', baseline),
      duringRollout: phaseFromRecords(ctx.fix ? 'rollout, graceful' : 'rollout, abrupt', records),
      steps,
      outbound: { total: outbound.length, byStatusFlag: countByStatusAndFlag(outbound) },
      failures: outbound.filter((e) => e.responseCode >= 500 || e.responseCode === 0),
      callerConnectionErrors: records.filter((r) => r.status === 0).length,
      webApiIdleCloses: (logs['web-api-sidecar'] ?? []).filter(isWebApiIdleClose),
    };
  },

  readSignals: readRolloutSignals,
  judge: judgeRollout,

  present(e) {
    return {
      load: [e.baseline, e.duringRollout],
      signals: [
        {
          name: 'failed at the caller',
          baseline: non2xx(e.baseline),
          observed: non2xx(e.duringRollout),
          unit: 'requests',
        },
        {
          name: 'no answer at the caller (reset/refused)',
          baseline: null,
          observed: e.callerConnectionErrors,
          unit: 'requests',
        },
        {
          name: "5xx at web-api's sidecar → recipe-api",
          baseline: null,
          observed: e.failures.length,
          unit: 'responses',
        },
      ],
      metricDeltas: [],
      accessLog: e.failures.slice(0, 5).map((entry) => ({ proxy: 'web-api-sidecar', entry })),
      accessLogCounts: { 'web-api-sidecar → recipe-api (rollout)': e.outbound.byStatusFlag },
      trace: null,
      findings: e.steps.map(
        (s) =>
          `${s.started} became ready and joined web-api's sidecar endpoints, then ${s.removed} was deleted: preStop sleep ${s.preStopMs ?? '–'} ms, SIGTERM, exited after ${s.exitedAfterMs ?? '–'} ms`,
      ),
    };
  },
};
