import { readFileSync } from 'node:fs';
import { recipeApiOutboundCluster } from '../evidence/envoy-stats.js';
import path from 'node:path';
import { Redis } from 'ioredis';
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
import { pause } from '@recipe-mesh/measure/net';
import {
  callerFailures,
  isWebApiIdleClose,
  recipeReadsThroughIngress,
  webApiIdleClosesOfPods,
  webApiToRecipeApi,
} from '../k8s-side.js';
import { type ProbeTiming, readPodBehaviours } from '@recipe-mesh/lab/workloads/manifests';
import { repoRoot } from '@recipe-mesh/measure/repo';

/**
 * "One slow dependency empties every endpoint": recipe-api's readiness PINGs Redis, so when Redis
 * stalls every replica fails /readyz at the same moment, the endpoint list empties and web-api's
 * sidecar answers 503 with response flag UH (no healthy upstream) — although every request could
 * have been served from the store, degraded. The fix keeps readiness about the process itself
 * (shared dependencies degrade, they do not gate traffic) and a PodDisruptionBudget so voluntary
 * disruptions never take the last replica either.
 */

const pdbFile = 'k8s/base/pdb-recipe-api.yaml';
export const instances = 2;

/**
 * How long Redis answers nothing (CLIENT PAUSE ALL): long enough for recipe-api's readiness probe,
 * as the manifests set it, to fail `failureThreshold` times in a row on every replica whatever its
 * phase (period × failureThreshold, plus the last probe's timeout), and a second for the probe
 * loop and a loaded machine. Shorter, and the endpoints never empty on the cluster.
 */
export function stallMsFor(readiness: ProbeTiming | null): number {
  if (!readiness)
    throw new Error('recipe-api has no readiness probe in the manifests: no stall can empty its endpoints');
  return readiness.periodMs * readiness.failureThreshold + readiness.timeoutMs + 1000;
}
/** Enough lanes to keep requests flowing while each waits out Redis' command timeouts (~1 s a request). */
const lanes = 20;
const ratePerSecond = 80;
/**
 * Requests the stall window must see: with the fix a request waits out Redis' 500 ms command timeout
 * once or twice (measured p50 0.5 to 1 s), so 20 lanes send 60 to 120 in the 3 s stall.
 */
export const minOutboundRequests = 30;
/** How long recovery may take before the run calls it stuck. */
const recoveryMaxMs = 15_000;
/** increase() extrapolates over the scrape window, so one event can read 0.9 on Prometheus. */
const atLeastOne = 0.5;

export interface NoHealthyEvidence {
  /** How long Redis stalled, sized from recipe-api's readiness probe (stallMsFor). */
  stallMs: number;
  readiness: ProbeTiming;
  baseline: PhaseLoad;
  duringStall: PhaseLoad;
  outbound: { total: number; byStatusFlag: Record<string, number> };
  noHealthy: AccessLogEntry[];
  /** web-api's sidecar lines where web-api's own idle keep-alive close lost a request (503-uc's race). */
  webApiIdleCloses: AccessLogEntry[];
  /** Readings of web-api's /readyz while Redis stalled: how many said not ready, of how many. */
  webApiReadiness: { unready: number; readings: number };
  /** Fewest recipe-api instances in web-api's sidecar endpoints at any reading during the run. */
  fewestInEndpoints: number | null;
  /** From Redis answering again until an instance was back in callers' endpoints (null: it never left, or never came back). */
  endpointBackAfterMs: number | null;
  /** From Redis answering again until the caller's first 2xx after its last failure. */
  servingAgainAfterMs: number | null;
}

const non2xx = (p: PhaseLoad) =>
  Object.entries(p.byStatusFlag)
    .filter(([k]) => !k.startsWith('2'))
    .reduce((n, [, v]) => n + v, 0);

export const noHealthySignals = {
  required: {
    uhResponses: webApiToRecipeApiWhere(
      "503 UH (no healthy upstream) at web-api's sidecar towards recipe-api",
      'response_flags="UH"',
      'response flag UH',
    ),
    outboundRequests: webApiToRecipeApiRequests,
    callerNon2xx,
    webApiIdleCloses,
  },
  optional: {
    webApiUnreadyReadings: {
      title: 'web-api /readyz readings that said not ready while Redis stalled',
      unit: 'readings',
      lab: "web-api's admin /readyz, polled",
      labSource: { kind: 'client' },
      k8s: 'kubectl -n recipe-mesh get pods -l app=web-api -w',
    },
    endpointBackAfterMs: {
      title: "recovery: an instance back in web-api's sidecar endpoints after Redis answered",
      unit: 'ms',
      lab: "lab instances' membership (Envoy admin /clusters of the callers)",
      labSource: { kind: 'envoy-stats', proxy: 'web-api-sidecar' },
      k8s: 'kubectl -n recipe-mesh get endpointslices -l kubernetes.io/service-name=recipe-api -w',
    },
  },
} satisfies Signals<string, string>;
type NoHealthyRequired = keyof typeof noHealthySignals.required;
type NoHealthyOptional = keyof typeof noHealthySignals.optional;

export function readNoHealthySignals(e: NoHealthyEvidence): SignalValues<NoHealthyRequired, NoHealthyOptional> {
  return {
    uhResponses: e.noHealthy.length,
    outboundRequests: e.outbound.total,
    callerNon2xx: non2xx(e.duringStall),
    webApiIdleCloses: e.webApiIdleCloses.length,
    webApiUnreadyReadings: e.webApiReadiness.readings ? e.webApiReadiness.unready : null,
    endpointBackAfterMs: e.endpointBackAfterMs,
  };
}

export function judgeNoHealthy(v: JudgeInput<NoHealthyRequired, NoHealthyOptional>): Verdict {
  const reasons = [
    `${Math.round(v.uhResponses)} of ${Math.round(v.outboundRequests)} requests from web-api's sidecar to recipe-api ended 503 UH (no healthy upstream); the caller saw ${Math.round(v.callerNon2xx)} non-2xx`,
  ];
  if (typeof v.webApiUnreadyReadings === 'number')
    reasons.push(`web-api said not ready in ${v.webApiUnreadyReadings} of its /readyz readings`);
  if (typeof v.endpointBackAfterMs === 'number')
    reasons.push(`an instance was back in the endpoints ${Math.round(v.endpointBackAfterMs)} ms after Redis answered`);
  if (v.uhResponses >= atLeastOne) return { outcome: 'incident', reasons };
  if (v.outboundRequests < minOutboundRequests)
    return {
      outcome: 'inconclusive',
      reasons: [...reasons, `fewer than ${minOutboundRequests} requests: too little load`],
    };
  if (v.webApiIdleCloses >= atLeastOne)
    reasons.push(
      `${Math.round(v.webApiIdleCloses)} of the caller's failures web-api's idle keep-alive close at its own sidecar (503 UC inbound: 503-uc's race, not the stall)`,
    );
  // A failure web-api's own keep-alive close explains is 503-uc's race on the hop before
  // recipe-api, which a starved machine shows now and then whatever Redis does.
  if (v.callerNon2xx - v.webApiIdleCloses >= atLeastOne)
    return { outcome: 'inconclusive', reasons: [...reasons, 'no UH, but the caller saw failures'] };
  return { outcome: 'healthy', reasons };
}

const setup = (readinessOnRedis: boolean): Setup => ({
  describe: [
    `recipe-api runs ${instances} instances (readiness-driven endpoints, as a Deployment with 2 replicas)`,
    readinessOnRedis
      ? 'recipe-api\'s /readyz PINGs Redis (PUT /faults {"readinessDependsOnRedis":true} on every instance)'
      : "recipe-api's /readyz checks the process only (the default): Redis degrades requests, it does not gate traffic",
    "Redis stalls (CLIENT PAUSE ALL) while the load runs, longer than recipe-api's readiness probe takes to fail on every replica: period × failureThreshold + timeout + 1 s, from the manifests",
  ],
  appFaults: { 'recipe-api': readinessOnRedis ? { readinessDependsOnRedis: true } : {} },
  mesh: [],
});

async function pauseRedis(url: string, ms: number): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  try {
    await client.call('CLIENT', 'PAUSE', String(ms), 'ALL');
  } finally {
    client.disconnect();
  }
}

export const noHealthyUpstream: Experiment<NoHealthyEvidence, NoHealthyRequired, NoHealthyOptional> = {
  name: 'no-healthy-upstream',
  title: 'Every recipe-api replica unready at once: 503 UH though the service could serve',
  incident: {
    title: 'One slow dependency empties every endpoint (readiness that checks a shared dependency)',
    source: 'docs/experiments.md; services/platform/src/health.ts',
  },
  hypothesis: `When recipe-api's readiness depends on Redis, a Redis stall longer than the readiness probe's period × failureThreshold fails /readyz on all ${instances} replicas together: the endpoint list empties and web-api's sidecar answers 503 UH (no healthy upstream) until Redis is back and a probe passes again, while web-api itself stays ready and answers a clear 503 JSON. With readiness about the process only, every request is served throughout, degraded to the store while Redis stalls.`,
  incidentSetup: setup(true),
  fixes: [
    {
      name: 'independent-readiness',
      summary:
        'Readiness checks the process, not shared dependencies (they degrade, they do not gate traffic), and a PodDisruptionBudget keeps voluntary disruptions from taking the last replica.',
      setup: setup(false),
      production: [
        {
          kind: 'code-pattern',
          title: 'Node: readiness without shared dependencies',
          snippet: [
            '// /readyz: started, not shutting down, not forced unready. No Redis PING here:',
            '// every read degrades to the store when Redis is slow or gone.',
            "health.addReadinessCheck('store', () => store.isLoaded());",
            '// Redis health is a metric and an alert (redis_connection_up), not a traffic gate.',
          ].join('\n'),
          repoFile: 'services/recipe-api/src/main.ts, services/platform/src/health.ts',
        },
        {
          kind: 'istio-resource',
          title: 'Kubernetes: a PodDisruptionBudget for recipe-api',
          snippet: readFileSync(path.join(repoRoot, pdbFile), 'utf8').trimEnd(),
          repoFile: pdbFile,
        },
      ],
    },
  ],
  load: {
    describe: `${lanes} lanes of GET /api/recipes/:id?via=http through the ingress at ${ratePerSecond}/s in all: 2 s before, then from the moment Redis stalls until an instance is back in web-api's sidecar endpoints, and at least --duration s.`,
    defaultDurationS: 4,
  },
  signals: noHealthySignals,
  labInstances: { 'recipe-api': instances },
  verdictRule: `incident when web-api's sidecar answered ≥1 request to recipe-api with 503 UH; healthy when none of ≥${minOutboundRequests} did and the caller saw only 2xx, bar web-api's own idle keep-alive closes (503 UC inbound at its sidecar: 503-uc's race)`,
  k8s: {
    load: {
      describe: `${lanes} lanes of GET /api/recipes/:id?via=http through the ingress gateway at ${ratePerSecond}/s in all, for --duration s and until Redis, stalled by \`redis-cli CLIENT PAUSE <ms> ALL\` in its pod 1 s in for as long as the lab stalls it (recipe-api's readiness period × failureThreshold + timeout + 1 s, from the manifests), has been back for ${recoveryMaxMs / 1000} s (load/paced.ts, as the lab)`,
      drive: async (ctx) => {
        // The same manifests the cluster runs (make deploy applies k8s/overlays/minikube).
        const stallMs = stallMsFor(readPodBehaviours(repoRoot).services['recipe-api'].readiness);
        const stall = (async () => {
          await pause(1000);
          ctx.log(`Redis paused for ${stallMs} ms`);
          await ctx.kubectl(['exec', 'deploy/redis', '--', 'redis-cli', 'CLIENT', 'PAUSE', String(stallMs), 'ALL']);
          await pause(stallMs + recoveryMaxMs);
        })();
        // The stall's own failure (no exec into the Redis pod) fails the run: a load that never
        // saw Redis stall would otherwise read healthy.
        const [records] = await Promise.all([
          recipeReadsThroughIngress(ctx, { ratePerSecond, lanes, until: stall }),
          stall,
        ]);
        return records;
      },
    },
    exact: {
      uhResponses: webApiToRecipeApi('flag UH', (e) => e.responseFlags.includes('UH')),
      outboundRequests: webApiToRecipeApi(''),
      callerNon2xx: callerFailures,
      webApiIdleCloses: webApiIdleClosesOfPods,
    },
  },

  async run(ctx) {
    const { target } = ctx;
    const redisUrl = target.urls.redis;
    if (!redisUrl) throw new Error('no-healthy-upstream needs the lab with Redis (redis-server installed)');
    const probe = target.pods['recipe-api'].readiness;
    const stallMs = stallMsFor(probe);
    ctx.log(
      `recipe-api's readiness probe: every ${probe!.periodMs} ms, failureThreshold ${probe!.failureThreshold}, timeout ${probe!.timeoutMs} ms: Redis stalls ${stallMs} ms`,
    );
    const request = (i: number) => ({
      url: `${target.urls.ingress}/api/recipes/${40 + (i % 10)}?via=http`,
      flagsHeader: target.responseFlagsHeader,
    });
    const load = (durationMs: number, until?: Promise<unknown>) =>
      pacedLoad({ request, ratePerSecond, lanes, durationMs, until });
    ctx.log('baseline: 2 s of load, Redis answering');
    const baseline = await load(2000);
    await ctx.applySetup();

    const inEndpoints = async () =>
      (await target.instances.list('recipe-api')).filter((i) => i.running && i.inEndpoints).length;
    const webApiReady = async () =>
      (await fetch(`${target.urls.admin['web-api']}/readyz`, { signal: AbortSignal.timeout(2000) })).ok;
    const mark = await target.accessLogMark();
    let redisBackAt = 0;
    const drill = (async () => {
      await pauseRedis(redisUrl, stallMs);
      redisBackAt = Date.now() + stallMs;
      ctx.log(`Redis paused for ${stallMs} ms`);
      // Recovery is measured, not waited out: until an instance is back in the callers' endpoints.
      const left = await target.settle(inEndpoints, (n) => n === 0, { maxMs: stallMs, intervalMs: 100 });
      const back = await target.settle(inEndpoints, (n) => n > 0 && Date.now() > redisBackAt, {
        maxMs: stallMs + recoveryMaxMs,
        intervalMs: 100,
      });
      return { left: left.settled, backAt: back.settled ? Date.now() : null };
    })();
    const [records, endpointSamples, readiness, outcome] = await Promise.all([
      load(ctx.durationS * 1000, drill),
      target.sampleWhile(inEndpoints, drill, { everyMs: 100 }),
      target.sampleWhile(webApiReady, drill, { everyMs: 200 }),
      drill,
    ]);
    const answered = records.filter((r) => r.status > 0).length;
    const logs = await target.accessLogWhen(mark, (l) => (l.ingress ?? []).length >= answered, {
      what: `${answered} answered requests logged by the ingress`,
    });
    const outbound = (logs['web-api-sidecar'] ?? []).filter(
      (e) => e.upstreamCluster === recipeApiOutboundCluster || e.responseFlags.includes('UH'),
    );
    const lastFailure = Math.max(
      0,
      ...records.filter((r) => r.status < 200 || r.status > 299).map((r) => r.startedAtMs),
    );
    const firstServedAfter = records.find((r) => r.status >= 200 && r.status < 300 && r.startedAtMs > lastFailure);
    return {
      stallMs,
      readiness: probe!,
      baseline: phaseFromRecords('baseline', baseline),
      duringStall: phaseFromRecords(
        ctx.fix ? 'Redis stall, own readiness' : 'Redis stall, readiness on Redis',
        records,
      ),
      outbound: { total: outbound.length, byStatusFlag: countByStatusAndFlag(outbound) },
      noHealthy: outbound.filter((e) => e.responseFlags.includes('UH')),
      webApiIdleCloses: (logs['web-api-sidecar'] ?? []).filter(isWebApiIdleClose),
      webApiReadiness: { unready: readiness.filter((ready) => !ready).length, readings: readiness.length },
      fewestInEndpoints: endpointSamples.length ? Math.min(...endpointSamples) : null,
      endpointBackAfterMs: outcome.left && outcome.backAt !== null ? Math.max(0, outcome.backAt - redisBackAt) : null,
      servingAgainAfterMs:
        lastFailure > 0 && firstServedAfter ? Math.max(0, firstServedAfter.startedAtMs - redisBackAt) : null,
    };
  },

  readSignals: readNoHealthySignals,
  judge: judgeNoHealthy,

  present(e) {
    const findings = [
      `Redis stalled ${e.stallMs} ms: recipe-api's readiness probe runs every ${e.readiness.periodMs} ms with failureThreshold ${e.readiness.failureThreshold} and timeout ${e.readiness.timeoutMs} ms (the manifests)`,
      `fewest recipe-api instances in web-api's sidecar endpoints during the stall: ${e.fewestInEndpoints ?? '–'} of ${instances}`,
      `web-api stayed ready: ${e.webApiReadiness.readings - e.webApiReadiness.unready} of ${e.webApiReadiness.readings} /readyz readings said ready`,
    ];
    if (e.endpointBackAfterMs !== null)
      findings.push(
        `recovery: an instance was back in the endpoints ${e.endpointBackAfterMs} ms after Redis answered again${e.servingAgainAfterMs === null ? '' : `; the caller's first 2xx after its last failure came ${e.servingAgainAfterMs} ms after`}`,
      );
    return {
      load: [e.baseline, e.duringStall],
      signals: [
        { name: '503 UH at web-api sidecar', baseline: null, observed: e.noHealthy.length, unit: 'responses' },
        {
          name: 'non-2xx seen by the caller',
          baseline: non2xx(e.baseline),
          observed: non2xx(e.duringStall),
          unit: 'responses',
        },
        {
          name: 'fewest instances in endpoints',
          baseline: instances,
          observed: e.fewestInEndpoints,
          unit: 'instances',
        },
        { name: 'recovery after Redis answered', baseline: null, observed: e.endpointBackAfterMs, unit: 'ms' },
      ],
      metricDeltas: [],
      accessLog: e.noHealthy.slice(0, 5).map((entry) => ({ proxy: 'web-api-sidecar', entry })),
      accessLogCounts: { 'web-api-sidecar → recipe-api': e.outbound.byStatusFlag },
      trace: null,
      findings,
    };
  },
};
