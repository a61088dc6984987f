import { readFileSync } from 'node:fs';
import { recipeApiOutboundCluster, recipeApiOutboundStat } from '../evidence/envoy-stats.js';
import path from 'node:path';
import { countByStatusAndFlag, type AccessLogEntry } from '@recipe-mesh/measure/access-log';
import { findListener, type MeshDescription } from '@recipe-mesh/lab/mesh/description';
import { summarizeLatency } from '@recipe-mesh/measure/latency';
import { loadWebApiConfig } from '@recipe-mesh/web-api/config';
import { callerBudgetHeader, parseBudgetMs, upstreamTimeoutHeader } from '@recipe-mesh/web-api/upstream/deadline';
import type { Experiment, JudgeInput, PhaseLoad, Setup, SignalValues, Signals, Verdict } from '../definition.js';
import { pacedLoad } from '../load/paced.js';
import { phaseFromRecords } from '../load/phase.js';
import { componentDir, componentValue, durationMs } from '../mesh/components.js';
import { countAll, countWhere, ingressToWebApi, recipeApiInbound } from '../promql.js';
import { recipeApiInboundLines, recipeReadsThroughIngress, webApiOutboundStat } from '../k8s-side.js';

/**
 * The Bookinfo timeouts lesson (istio.io "Request Timeouts" task; the book-info productpage's own
 * 3 s timeout with one retry in front of a 7 s delay): every hop sets its own timeout and retries
 * without knowing what the caller waits, so the caller waits a multiple of its budget and still
 * gets a 504, while recipe-api is asked again and again for an answer nobody waits for. The fix
 * is one deadline, said once at the edge and carried by every hop (services/web-api/src/upstream/
 * deadline.ts): per-try timeouts inside it, retries only while it leaves room.
 *
 * Scaled down so a run takes seconds: the caller's budget is 1 s, recipe-api answers after 2.5 s,
 * web-api's sidecar holds 3 tries of 1 s in a 3 s route (Bookinfo: 7 s delay, 3 s timeouts).
 */

export const nestedComponent = 'timeout-budget';
export const edgeComponent = 'timeout-budget-edge';

/** The caller's budget: what the edge says in the fix, and what the caller waits in both runs. */
export const callerBudgetMs = durationMs(
  componentValue(edgeComponent, 'VirtualService', 'web-api-ingress', '/spec/http/0/timeout'),
);
/** recipe-api's app fault `latency`: beyond every try and the budget. */
export const recipeApiDelayMs = 2500;
/** web-api's own deadline per call (its config default, which the lab keeps). */
const webApiConfig = loadWebApiConfig({});

/** A caller that waited this multiple of its budget was kept waiting by the hops behind it. */
export const incidentWaitFactor = 1.5;
/** p99 within the budget, with 10 % for a loaded 2-core machine's scheduling. */
export const healthyWaitFactor = 1.1;
/** recipe-api asked once per call (plus noise): no retry outlived the caller. */
export const healthyTriesPerCall = 1.1;
export const minCallerRequests = 10;
/** increase() extrapolates over the scrape window, so one event can read 0.9 on Prometheus. */
const atLeastOne = 0.5;
/** Each lane has one request in flight; enough calls for a p99 in a few seconds. */
const lanes = 8;
const ratePerSecond = 40;

/** One hop's budget as configured in the run, and how long the caller waited there (p99 of its log). */
export interface HopBudget {
  hop: string;
  /** What bounds this hop, in ms; null when nothing does. */
  budgetMs: number | null;
  how: string;
  observedP99Ms: number | null;
}

export interface BudgetEvidence {
  hops: HopBudget[];
  /** What the caller saw. */
  load: PhaseLoad;
  /** Requests recipe-api's sidecar received for the load: every try of every call. */
  recipeApiTries: number;
  /** web-api's sidecar → recipe-api, one line per call (its tries inside), by `status flags`. */
  outbound: Record<string, number>;
  /** Envoy counters of web-api's sidecar cluster to recipe-api over the run (retries, per-try timeouts). */
  sidecarRetries: number | null;
  perTryTimeouts: number | null;
  /** A few of web-api's sidecar lines to recipe-api, for the report. */
  lines: AccessLogEntry[];
}

export const budgetSignals = {
  required: {
    callerP99Ms: {
      title: 'p99 the caller waited',
      unit: 'ms',
      lab: "the load's own records (through the ingress)",
      labSource: { kind: 'client' },
      k8s: 'histogram_quantile(0.99, istio_request_duration_milliseconds_bucket{reporter="source",source_workload="istio-ingressgateway",destination_workload="web-api"})',
      promql: `histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{${ingressToWebApi}}[$window])))`,
    },
    callerRequests: {
      title: 'requests the caller sent',
      unit: 'requests',
      lab: "the load's own records",
      labSource: { kind: 'client' },
      k8s: 'istio_requests_total{reporter="source",source_workload="istio-ingressgateway",destination_workload="web-api"}',
      promql: countAll('istio_requests_total', ingressToWebApi),
    },
    caller504s: {
      title: '504 answers the caller saw',
      unit: 'responses',
      lab: "the load's own records",
      labSource: { kind: 'client' },
      k8s: 'istio_requests_total{reporter="source",source_workload="istio-ingressgateway",destination_workload="web-api",response_code="504"}',
      promql: countWhere('istio_requests_total', ingressToWebApi, 'response_code="504"'),
    },
    recipeApiTries: {
      title: "tries recipe-api's sidecar received",
      unit: 'requests',
      lab: '.lab/logs/recipe-api-sidecar.access.log, GET /recipes/…',
      labSource: { kind: 'access-log', proxy: 'recipe-api-sidecar' },
      k8s: 'istio_requests_total{reporter="destination",destination_workload="recipe-api"}',
      promql: countAll('istio_requests_total', recipeApiInbound),
    },
  },
  optional: {
    sidecarRetries: {
      title: "retries of web-api's sidecar to recipe-api",
      unit: 'retries',
      lab: 'web-api sidecar Envoy admin /stats upstream_rq_retry',
      labSource: { kind: 'envoy-stats', proxy: 'web-api-sidecar' },
      k8s: 'kubectl exec deploy/web-api -c istio-proxy -- pilot-agent request GET stats | grep upstream_rq_retry',
    },
    perTryTimeouts: {
      title: "per-try timeouts of web-api's sidecar to recipe-api",
      unit: 'tries',
      lab: 'web-api sidecar Envoy admin /stats upstream_rq_per_try_timeout',
      labSource: { kind: 'envoy-stats', proxy: 'web-api-sidecar' },
      k8s: 'kubectl exec deploy/web-api -c istio-proxy -- pilot-agent request GET stats | grep per_try_timeout',
    },
  },
} satisfies Signals<string, string>;
type BudgetRequired = keyof typeof budgetSignals.required;
type BudgetOptional = keyof typeof budgetSignals.optional;

export function readBudgetSignals(e: BudgetEvidence): SignalValues<BudgetRequired, BudgetOptional> {
  return {
    callerP99Ms: e.load.latencyMs.p99,
    callerRequests: e.load.requests,
    caller504s: sumWhere(e.load.byStatusFlag, (k) => k.startsWith('504')),
    recipeApiTries: e.recipeApiTries,
    sidecarRetries: e.sidecarRetries,
    perTryTimeouts: e.perTryTimeouts,
  };
}

const sumWhere = (counts: Record<string, number>, pick: (key: string) => boolean) =>
  Object.entries(counts)
    .filter(([k]) => pick(k))
    .reduce((n, [, v]) => n + v, 0);

const times = (ms: number) => `${(ms / callerBudgetMs).toFixed(1)}× the ${callerBudgetMs} ms budget`;

export function judgeBudget(v: JudgeInput<BudgetRequired, BudgetOptional>): Verdict {
  const triesPerCall = v.callerRequests > 0 ? v.recipeApiTries / v.callerRequests : 0;
  const reasons = [
    `the caller waited ${Math.round(v.callerP99Ms)} ms at p99 (${times(v.callerP99Ms)}) and got ${Math.round(v.caller504s)} × 504 in ${Math.round(v.callerRequests)} requests`,
    `recipe-api's sidecar received ${Math.round(v.recipeApiTries)} tries: ${triesPerCall.toFixed(2)} per call`,
  ];
  if (typeof v.sidecarRetries === 'number')
    reasons.push(
      `web-api's sidecar retried ${v.sidecarRetries} times (${v.perTryTimeouts ?? 'unknown'} per-try timeouts)`,
    );
  if (v.callerP99Ms >= incidentWaitFactor * callerBudgetMs && v.caller504s >= atLeastOne)
    return { outcome: 'incident', reasons };
  if (v.callerRequests < minCallerRequests)
    return {
      outcome: 'inconclusive',
      reasons: [...reasons, `fewer than ${minCallerRequests} requests: too little load`],
    };
  if (v.callerP99Ms <= healthyWaitFactor * callerBudgetMs && triesPerCall <= healthyTriesPerCall)
    return { outcome: 'healthy', reasons };
  return {
    outcome: 'inconclusive',
    reasons: [
      ...reasons,
      v.callerP99Ms > healthyWaitFactor * callerBudgetMs
        ? `p99 above ${healthyWaitFactor}× the budget, but not the ${incidentWaitFactor}× with 504s of the incident`
        : 'within the budget at the caller, but recipe-api was still asked again after it: work nobody waits for',
    ],
  };
}

/** The budget of each hop as the run configured it, nested from the caller inwards. */
export function hopBudgets(mesh: MeshDescription): Omit<HopBudget, 'observedP99Ms'>[] {
  const gateway = findListener(mesh, 'ingress', 'gateway-http').route;
  const outbound = findListener(mesh, 'web-api-sidecar', 'outbound-recipe-api-http').route;
  const own = webApiConfig.UPSTREAM_TIMEOUT_MS;
  const reserve = webApiConfig.UPSTREAM_DEADLINE_RESERVE_MS;
  const told = parseBudgetMs(gateway.requestHeaders?.[callerBudgetHeader]);
  const webApiMs = told === undefined ? own : Math.min(own, told - reserve);
  const tries = (outbound.retries?.numRetries ?? 0) + 1;
  const perTry = outbound.retries?.perTryTimeoutMs ?? 0;
  const triesMs = perTry > 0 ? tries * perTry : null;
  const routeMs = [outbound.timeoutMs > 0 ? outbound.timeoutMs : null, triesMs, webApiMs]
    .filter((ms): ms is number => ms !== null)
    .reduce((a, b) => Math.min(a, b));
  return [
    { hop: 'caller', budgetMs: callerBudgetMs, how: 'what the caller waits for an answer' },
    {
      hop: 'ingress → web-api',
      budgetMs: gateway.timeoutMs > 0 ? gateway.timeoutMs : null,
      how: `VirtualService web-api-ingress timeout ${gateway.timeoutMs > 0 ? `${gateway.timeoutMs} ms` : 'none'}; ${
        told === undefined
          ? 'the caller’s budget is not said to anyone behind the edge'
          : `${callerBudgetHeader}: ${told} sent to web-api`
      }`,
    },
    {
      hop: 'web-api → recipe-api',
      budgetMs: webApiMs,
      how:
        told === undefined
          ? `its own UPSTREAM_TIMEOUT_MS ${own} ms, set without the caller's budget`
          : `the caller's ${told} ms less ${reserve} ms for the way back (its own UPSTREAM_TIMEOUT_MS ${own} ms would allow more)`,
    },
    {
      hop: "web-api's sidecar route → recipe-api",
      budgetMs: routeMs,
      how: `VirtualService recipe-api timeout ${outbound.timeoutMs || 'none'} ms, ${tries} tries × perTryTimeout ${perTry || 'none'} ms${triesMs ? ` = ${triesMs} ms` : ''}; ended sooner when web-api cancels its call at ${webApiMs} ms (the sidecar resets the try in flight and starts no other)`,
    },
    {
      hop: 'recipe-api',
      budgetMs: null,
      how: `answers after ${recipeApiDelayMs} ms (app fault latency): every try runs into its timeout`,
    },
  ];
}

const p99Of = (entries: readonly AccessLogEntry[]) => summarizeLatency(entries.map((e) => e.durationMs)).p99;

const setup = (fix: boolean): Setup => {
  return {
    describe: [
      `recipe-api app fault latency ${recipeApiDelayMs} ms on GET /recipes/… (beyond the caller's ${callerBudgetMs} ms budget; an app fault, so the client-side route's timeout and retries stay on: istio/istio#13705)`,
      `istio/faults/${nestedComponent}: VirtualService recipe-api route timeout 3 s holding 3 tries × perTryTimeout 1 s, retried on gateway-error`,
      fix
        ? `istio/faults/${edgeComponent}: VirtualService web-api-ingress timeout ${callerBudgetMs} ms and ${callerBudgetHeader}: ${callerBudgetMs} — the caller's budget said at the edge and carried by every hop`
        : `web-api's own deadline ${webApiConfig.UPSTREAM_TIMEOUT_MS} ms; the ingress route says nothing of the caller's ${callerBudgetMs} ms`,
    ],
    appFaults: {
      'recipe-api': { latency: { ms: recipeApiDelayMs, jitterMs: 0, percent: 100, routes: ['/recipes/'] } },
    },
    // One component per run (make fault takes one): the fix's includes the incident's routes.
    mesh: [fix ? edgeComponent : nestedComponent],
  };
};

const deadlineSnippet = `// web-api (services/web-api/src/upstream/deadline.ts, call.ts, retry.ts)
const budgetMs = parseBudgetMs(req.get('x-request-timeout-ms')); // set by the caller or the edge
const callerDeadline = receivedAt + budgetMs - reserveMs;                  // UPSTREAM_DEADLINE_RESERVE_MS
const deadline = Math.min(Date.now() + UPSTREAM_TIMEOUT_MS, callerDeadline);
headers['x-envoy-upstream-rq-timeout-ms'] = String(deadline - Date.now()); // the sidecar's route timeout
grpcClient.GetRecipe(request, metadata, { deadline }, callback);           // grpc-timeout, same deadline
// retry only while the backoff and a whole try still fit:
retry = retryable && remainingMs >= backoffMs + UPSTREAM_MIN_TRY_MS;`;

export const timeoutBudget: Experiment<BudgetEvidence, BudgetRequired, BudgetOptional> = {
  name: 'timeout-budget',
  title: 'Nested timeouts and retries make the caller wait a multiple of its budget',
  incident: {
    title: 'Bookinfo timeouts: a 7 s delay behind nested 3 s timeouts with retries',
    source: 'istio.io "Request Timeouts" task, the Bookinfo productpage timeouts, and istio/istio#13705',
  },
  hypothesis: `recipe-api answers after ${recipeApiDelayMs} ms. web-api waits its own ${webApiConfig.UPSTREAM_TIMEOUT_MS} ms, its sidecar holds 3 tries of 1 s in a 3 s route, and nobody knows the caller's ${callerBudgetMs} ms budget: the caller waits ≥${incidentWaitFactor}× its budget for a 504 while recipe-api gets a second try nobody waits for. With the budget said at the edge and carried by every hop (web-api ends by it and tells its sidecar the time left), the caller's p99 stays within the budget and recipe-api is asked once per call.`,
  incidentSetup: setup(false),
  fixes: [
    {
      name: 'one-deadline',
      summary: `One deadline end to end: the ingress route ends after the caller's ${callerBudgetMs} ms and tells web-api so in ${callerBudgetHeader} (istio/faults/${edgeComponent}); web-api ends its calls by it and passes the time left on as ${upstreamTimeoutHeader} (a gRPC deadline over gRPC), and retries only while a try still fits, so no try outlives the caller.`,
      setup: setup(true),
      production: [
        {
          kind: 'istio-resource',
          title: "Istio: the caller's budget as the ingress route timeout",
          snippet: readFileSync(path.join(componentDir(edgeComponent), 'kustomization.yaml'), 'utf8').trimEnd(),
          repoFile: `istio/faults/${edgeComponent}/kustomization.yaml (make fault FAULT=${edgeComponent})`,
        },
        {
          kind: 'code-pattern',
          title: 'web-api: read the budget, end every call by it, pass the rest on, retry only while a try fits',
          snippet: deadlineSnippet,
          repoFile: 'services/web-api/src/upstream/deadline.ts',
        },
      ],
    },
  ],
  load: {
    describe: `${lanes} lanes of GET /api/recipes/:id?via=http through the ingress, each waiting for its answer (the client itself never gives up early), for --duration s.`,
    defaultDurationS: 4,
  },
  signals: budgetSignals,
  verdictRule: `incident when the caller's p99 is ≥${incidentWaitFactor}× its ${callerBudgetMs} ms budget and it got 504s; healthy when, over ≥${minCallerRequests} requests, p99 ≤${healthyWaitFactor}× the budget and recipe-api got ≤${healthyTriesPerCall} tries per call`,
  k8s: {
    load: {
      describe: `${lanes} lanes of GET /api/recipes/:id?via=http through the ingress gateway at ${ratePerSecond}/s in all for --duration s, none giving up early (load/paced.ts, as the lab)`,
      drive: (ctx) => recipeReadsThroughIngress(ctx, { ratePerSecond, lanes }),
    },
    exact: {
      callerP99Ms: {
        from: 'client',
        describe: "the load's own records, p99 of answered requests",
        reduce: (records) => summarizeLatency(records.filter((r) => r.status > 0).map((r) => r.latencyMs)).p99,
      },
      callerRequests: { from: 'client', describe: "the load's own records", reduce: (records) => records.length },
      caller504s: {
        from: 'client',
        describe: "the load's own records, status 504",
        reduce: (records) => records.filter((r) => r.status === 504).length,
      },
      recipeApiTries: recipeApiInboundLines('GET /recipes/…', (e) => e.path.startsWith('/recipes/')),
      sidecarRetries: webApiOutboundStat('upstream_rq_retry'),
      perTryTimeouts: webApiOutboundStat('upstream_rq_per_try_timeout'),
    },
  },

  async run(ctx) {
    const { target } = ctx;
    const stat = (name: string) => recipeApiOutboundStat(target, name);
    await ctx.applySetup();
    const counters = ['upstream_rq_retry', 'upstream_rq_per_try_timeout'];
    const before = await Promise.all(counters.map(stat));
    const mark = await target.accessLogMark();
    ctx.log(`${lanes} lanes for ${ctx.durationS} s against recipe-api slowed to ${recipeApiDelayMs} ms`);
    const records = await pacedLoad({
      request: (i) => ({
        url: `${target.urls.ingress}/api/recipes/${40 + (i % 10)}?via=http`,
        flagsHeader: target.responseFlagsHeader,
      }),
      ratePerSecond,
      lanes,
      durationMs: ctx.durationS * 1000,
    });
    const answered = records.filter((r) => r.status > 0).length;
    const tries = (logs: Record<string, AccessLogEntry[]>) =>
      (logs['recipe-api-sidecar'] ?? []).filter((e) => e.path.startsWith('/recipes/'));
    const logs = await target.accessLogWhen(
      mark,
      (l) => (l.ingress ?? []).length >= answered && tries(l).length >= answered,
      { what: `${answered} answered requests logged by the ingress and recipe-api's sidecar` },
    );
    const after = await Promise.all(counters.map(stat));
    const delta = (i: number) => (after[i] == null || before[i] == null ? null : after[i]! - before[i]!);
    const outbound = (logs['web-api-sidecar'] ?? []).filter((e) => e.upstreamCluster === recipeApiOutboundCluster);
    const inbound = (logs['web-api-sidecar'] ?? []).filter((e) => e.upstreamCluster?.startsWith('inbound|'));
    const observed = [null, p99Of(logs.ingress ?? []), p99Of(inbound), p99Of(outbound), p99Of(tries(logs))];
    return {
      hops: hopBudgets(target.mesh()).map((h, i) => ({ ...h, observedP99Ms: observed[i] ?? null })),
      load: phaseFromRecords(ctx.fix ? 'one deadline end to end' : 'nested timeouts', records),
      recipeApiTries: tries(logs).length,
      outbound: countByStatusAndFlag(outbound),
      sidecarRetries: delta(0),
      perTryTimeouts: delta(1),
      lines: outbound.slice(0, 5),
    };
  },

  readSignals: readBudgetSignals,
  judge: judgeBudget,

  present(e) {
    const p99 = e.load.latencyMs.p99;
    const findings = [
      `Budget per hop (configured → observed p99): ${e.hops
        .map(
          (h) =>
            `${h.hop}: ${h.budgetMs === null ? 'unbounded' : `${h.budgetMs} ms`} (${h.how})${h.observedP99Ms === null ? '' : ` → ${Math.round(h.observedP99Ms)} ms`}`,
        )
        .join('; ')}.`,
      p99 === null
        ? 'the caller got no answer to time'
        : `The caller waited ${Math.round(p99)} ms at p99: ${times(p99)}. ${
            e.recipeApiTries > e.load.requests
              ? `recipe-api was asked ${e.recipeApiTries} times for ${e.load.requests} calls: the tries after the first only added load on a dependency that was already too slow.`
              : `recipe-api was asked ${e.recipeApiTries} times for ${e.load.requests} calls: no try outlived the caller.`
          }`,
      'Scaled from Bookinfo: budget 1 s for its 3 s, recipe-api 2.5 s for ratings’ 7 s, 1 s per try for its 3 s timeout. The delay is an app fault on recipe-api because an Istio fault on the client side disables that route’s timeout and retries (istio/istio#13705).',
    ];
    return {
      load: [e.load],
      signals: [
        { name: 'p99 at the caller', baseline: callerBudgetMs, observed: p99, unit: 'ms (baseline: the budget)' },
        {
          name: "tries at recipe-api's sidecar",
          baseline: e.load.requests,
          observed: e.recipeApiTries,
          unit: 'requests (baseline: calls)',
        },
        { name: "retries of web-api's sidecar", baseline: null, observed: e.sidecarRetries, unit: 'retries' },
        { name: 'per-try timeouts', baseline: null, observed: e.perTryTimeouts, unit: 'tries' },
      ],
      metricDeltas: [],
      accessLog: e.lines.map((entry) => ({ proxy: 'web-api-sidecar', entry })),
      accessLogCounts: { 'web-api-sidecar → recipe-api': e.outbound },
      trace: null,
      findings,
    };
  },
};
