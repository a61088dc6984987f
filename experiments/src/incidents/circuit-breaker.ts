import { readFileSync } from 'node:fs';
import { recipeApiOutboundCluster, recipeApiOutboundStat } from '../evidence/envoy-stats.js';
import path from 'node:path';
import { countByStatusAndFlag, type AccessLogEntry } from '@recipe-mesh/measure/access-log';
import type { Experiment, JudgeInput, PhaseLoad, Setup, SignalValues, Signals, Verdict } from '../definition.js';
import { pacedLoad } from '../load/paced.js';
import { phaseFromRecords } from '../load/phase.js';
import { componentDir, componentValue } from '../mesh/components.js';
import { callerNon2xx, webApiToRecipeApiRequests, webApiToRecipeApiWhere } from '../shared-signals.js';
import { callerFailures, recipeReadsThroughIngress, webApiOutboundStat, webApiToRecipeApi } from '../k8s-side.js';

/**
 * Istio's circuit-breaking task, as it bites in production: a DestinationRule connectionPool of one
 * connection and one pending request (istio/faults/circuit-breaker) in front of a caller that
 * sends a few requests at once. Web-api's sidecar answers the overflow itself — 503 with response
 * flag UO, `upstream_rq_pending_overflow` — and recipe-api never sees those requests. The fix is not
 * "no limits" but limits sized from the concurrency the caller really sends
 * (istio/faults/circuit-breaker-sized), measured here before the limits go on.
 */

export const breakerComponent = 'circuit-breaker';
export const sizedComponent = 'circuit-breaker-sized';
const poolPath = '/spec/trafficPolicy/connectionPool';

export interface PoolLimits {
  maxConnections: number | null;
  maxPendingRequests: number | null;
}

/** The limits a component sets, read from its YAML: one value for the lab, k8s and the report. */
export function poolLimits(component: string): PoolLimits {
  const pool = componentValue(component, 'DestinationRule', 'recipe-api', poolPath) as {
    tcp?: { maxConnections?: number };
    http?: { http1MaxPendingRequests?: number };
  };
  return {
    maxConnections: pool.tcp?.maxConnections ?? null,
    maxPendingRequests: pool.http?.http1MaxPendingRequests ?? null,
  };
}

/** Requests in flight from the load: enough to overflow 1 connection + 1 pending, far under the sized limits. */
export const lanes = 8;
/** Above what the lab serves at this concurrency, so every lane always has a request in flight. */
const ratePerSecond = 400;
const baselineSeconds = 2;
export const minOutboundRequests = 100;
/** increase() extrapolates over the scrape window, so one event can read 0.9 on Prometheus. */
const atLeastOne = 0.5;

export interface BreakerEvidence {
  baseline: PhaseLoad;
  underLimits: PhaseLoad;
  /** Most requests web-api's sidecar had in flight to recipe-api during the baseline (Envoy upstream_rq_active). */
  peakActive: number | null;
  limits: PoolLimits;
  /** web-api's sidecar → recipe-api lines while the limits were on, by `status flags`. */
  outbound: { total: number; byStatusFlag: Record<string, number> };
  overflows: AccessLogEntry[];
  /** Envoy's upstream_rq_pending_overflow on the outbound cluster over the limited phase. */
  pendingOverflow: number | null;
}

const clientNon2xx = (p: PhaseLoad) =>
  Object.entries(p.byStatusFlag)
    .filter(([k]) => !k.startsWith('2'))
    .reduce((n, [, v]) => n + v, 0);

export const breakerSignals = {
  required: {
    uoOverflows: webApiToRecipeApiWhere(
      "503 UO (overflow) at web-api's sidecar towards recipe-api",
      'response_flags="UO"',
      'response flag UO',
    ),
    outboundRequests: webApiToRecipeApiRequests,
    callerNon2xx,
  },
  optional: {
    pendingOverflow: {
      title: 'upstream_rq_pending_overflow of the outbound cluster',
      unit: 'requests',
      lab: 'web-api sidecar Envoy admin /stats',
      labSource: { kind: 'envoy-stats', proxy: 'web-api-sidecar' },
      k8s: 'kubectl exec deploy/web-api -c istio-proxy -- pilot-agent request GET stats | grep pending_overflow',
    },
    peakActive: {
      title: 'peak requests in flight to recipe-api before the limits',
      unit: 'requests',
      lab: 'web-api sidecar Envoy admin /stats upstream_rq_active, sampled every 50 ms',
      labSource: { kind: 'envoy-stats', proxy: 'web-api-sidecar' },
      k8s: 'max_over_time(envoy_cluster_upstream_rq_active{cluster_name=~"outbound.*recipe-api.*"}[1h]) where proxy stats expose it',
    },
  },
} satisfies Signals<string, string>;
type BreakerRequired = keyof typeof breakerSignals.required;
type BreakerOptional = keyof typeof breakerSignals.optional;

export function readBreakerSignals(e: BreakerEvidence): SignalValues<BreakerRequired, BreakerOptional> {
  return {
    uoOverflows: e.overflows.length,
    outboundRequests: e.outbound.total,
    callerNon2xx: clientNon2xx(e.underLimits),
    pendingOverflow: e.pendingOverflow,
    peakActive: e.peakActive,
  };
}

export function judgeBreaker(v: JudgeInput<BreakerRequired, BreakerOptional>): Verdict {
  const reasons = [
    `${Math.round(v.uoOverflows)} of ${Math.round(v.outboundRequests)} requests from web-api's sidecar to recipe-api ended 503 UO (overflow); the caller saw ${Math.round(v.callerNon2xx)} non-2xx`,
  ];
  if (v.pendingOverflow !== undefined && v.pendingOverflow !== null)
    reasons.push(`Envoy counted ${v.pendingOverflow} upstream_rq_pending_overflow`);
  if (v.uoOverflows >= atLeastOne) return { outcome: 'incident', reasons };
  if (v.outboundRequests < minOutboundRequests)
    return {
      outcome: 'inconclusive',
      reasons: [...reasons, `fewer than ${minOutboundRequests} requests: too little load`],
    };
  if (v.callerNon2xx >= atLeastOne)
    return { outcome: 'inconclusive', reasons: [...reasons, 'no overflow, but the caller saw failures'] };
  return { outcome: 'healthy', reasons };
}

const limitsText = (l: PoolLimits) =>
  `maxConnections ${l.maxConnections ?? 'unset'}, http1MaxPendingRequests ${l.maxPendingRequests ?? 'unset'}`;

const setup = (component: string): Setup => ({
  describe: [
    `DestinationRule recipe-api connectionPool from istio/faults/${component}: ${limitsText(poolLimits(component))} (web-api's sidecar circuit breakers)`,
  ],
  appFaults: {},
  mesh: [component],
});

export const circuitBreaker: Experiment<BreakerEvidence, BreakerRequired, BreakerOptional> = {
  name: 'circuit-breaker',
  title: "503 UO when connection-pool limits are below the caller's concurrency",
  incident: {
    title: "Istio's circuit-breaking task (1 connection, 1 pending request) met with real concurrency",
    source: 'istio.io "Circuit Breaking" task and docs/experiments.md',
  },
  hypothesis: `With a DestinationRule connectionPool of one connection and one pending request, web-api's sidecar can hold two requests to recipe-api; the caller sends ${lanes} at once, so the sidecar rejects the rest itself: 503 with response flag UO and upstream_rq_pending_overflow, and those requests never reach recipe-api. Limits sized from the measured concurrency (well above it) serve the same load with no overflow.`,
  incidentSetup: setup(breakerComponent),
  fixes: [
    {
      name: 'sized-limits',
      summary: `Size the connection pool from the concurrency the caller really sends: measured first (peak requests in flight), then limits with headroom (istio/faults/${sizedComponent}: ${limitsText(poolLimits(sizedComponent))}).`,
      setup: setup(sizedComponent),
      production: [
        {
          kind: 'istio-resource',
          title: 'Istio: connection-pool limits above the measured peak concurrency',
          snippet: readFileSync(path.join(componentDir(sizedComponent), 'kustomization.yaml'), 'utf8').trimEnd(),
          repoFile: `istio/faults/${sizedComponent}/kustomization.yaml (make fault FAULT=${sizedComponent})`,
        },
      ],
    },
  ],
  load: {
    describe: `${lanes} lanes of GET /api/recipes/:id?via=http through the ingress, each with one request in flight (paced at ${ratePerSecond}/s in all, above what the lab serves): ${baselineSeconds} s without limits to measure the peak concurrency, then --duration s under the setup's limits.`,
    defaultDurationS: 4,
  },
  signals: breakerSignals,
  verdictRule: `incident when web-api's sidecar answered ≥1 request to recipe-api with 503 UO; healthy when none of ≥${minOutboundRequests} requests overflowed and the caller saw only 2xx`,
  k8s: {
    load: {
      describe: `${lanes} lanes of GET /api/recipes/:id?via=http through the ingress gateway at ${ratePerSecond}/s in all for --duration s (load/paced.ts, as the lab's phase under limits)`,
      drive: (ctx) => recipeReadsThroughIngress(ctx, { ratePerSecond, lanes }),
    },
    exact: {
      uoOverflows: webApiToRecipeApi('flag UO', (e) => e.responseFlags.includes('UO')),
      outboundRequests: webApiToRecipeApi(''),
      callerNon2xx: callerFailures,
      pendingOverflow: webApiOutboundStat('upstream_rq_pending_overflow'),
    },
  },

  async run(ctx) {
    const { target } = ctx;
    const url = (i: number) => ({
      url: `${target.urls.ingress}/api/recipes/${40 + (i % 10)}?via=http`,
      flagsHeader: target.responseFlagsHeader,
    });
    const load = (seconds: number) => pacedLoad({ request: url, ratePerSecond, lanes, durationMs: seconds * 1000 });
    const outboundStat = (stat: string) => recipeApiOutboundStat(target, stat);

    ctx.log(`baseline: ${lanes} lanes for ${baselineSeconds} s without limits, sampling requests in flight`);
    const baselineRun = load(baselineSeconds);
    const active = await target.sampleWhile(() => outboundStat('upstream_rq_active'), baselineRun, { everyMs: 50 });
    const baselineRecords = await baselineRun;
    const readings = active.filter((v): v is number => v !== null);
    const peakActive = readings.length ? Math.max(...readings) : null;
    ctx.log(`peak requests in flight to recipe-api: ${peakActive ?? 'not read'}`);

    await ctx.applySetup();
    const limits = poolLimits(ctx.setup.mesh[0]!);
    const mark = await target.accessLogMark();
    const overflowBefore = await outboundStat('upstream_rq_pending_overflow');
    ctx.log(`under ${limitsText(limits)}: ${lanes} lanes for ${ctx.durationS} s`);
    const records = await load(ctx.durationS);
    const answered = records.filter((r) => r.status > 0).length;
    const logs = await target.accessLogWhen(mark, (l) => (l.ingress ?? []).length >= answered, {
      what: `${answered} answered requests logged by the ingress`,
    });
    const overflowAfter = await outboundStat('upstream_rq_pending_overflow');
    const outbound = (logs['web-api-sidecar'] ?? []).filter(
      (e) => e.upstreamCluster === recipeApiOutboundCluster || e.responseFlags.includes('UO'),
    );
    return {
      baseline: phaseFromRecords('baseline, no limits', baselineRecords),
      underLimits: phaseFromRecords(ctx.fix ? 'sized limits' : 'limits 1+1', records),
      peakActive,
      limits,
      outbound: { total: outbound.length, byStatusFlag: countByStatusAndFlag(outbound) },
      overflows: outbound.filter((e) => e.responseFlags.includes('UO')),
      pendingOverflow: overflowAfter === null || overflowBefore === null ? null : overflowAfter - overflowBefore,
    };
  },

  readSignals: readBreakerSignals,
  judge: judgeBreaker,

  present(e) {
    const allowed = (e.limits.maxConnections ?? 0) + (e.limits.maxPendingRequests ?? 0);
    const findings = [
      e.peakActive === null
        ? "the peak concurrency could not be read from web-api's sidecar"
        : `Sizing: without limits web-api's sidecar had up to ${e.peakActive} requests in flight to recipe-api under this load; the limits in force (${limitsText(e.limits)}) hold ${allowed} at once before overflowing — ${(allowed / Math.max(1, e.peakActive)).toFixed(1)}× the measured peak. istio/faults/${sizedComponent} allows ${limitsText(poolLimits(sizedComponent))}: size yours the same way, from your own peak, with headroom for bursts and slow replicas.`,
    ];
    if (e.overflows.length)
      findings.push(
        "UO responses are local replies of web-api's sidecar: recipe-api and its sidecar never saw those requests, so its own dashboards show nothing wrong.",
      );
    return {
      load: [e.baseline, e.underLimits],
      signals: [
        { name: 'peak requests in flight (no limits)', baseline: null, observed: e.peakActive, unit: 'requests' },
        { name: '503 UO at web-api sidecar', baseline: null, observed: e.overflows.length, unit: 'responses' },
        { name: 'upstream_rq_pending_overflow', baseline: null, observed: e.pendingOverflow, unit: 'requests' },
        {
          name: 'non-2xx seen by the caller',
          baseline: clientNon2xx(e.baseline),
          observed: clientNon2xx(e.underLimits),
          unit: 'responses',
        },
      ],
      metricDeltas: [],
      accessLog: e.overflows.slice(0, 5).map((entry) => ({ proxy: 'web-api-sidecar', entry })),
      accessLogCounts: { 'web-api-sidecar → recipe-api': e.outbound.byStatusFlag },
      trace: null,
      findings,
    };
  },
};
