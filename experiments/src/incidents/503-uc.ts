import { readFileSync } from 'node:fs';
import path from 'node:path';
import { sidecarServiceName } from '@recipe-mesh/measure/mesh-namespace';
import type { Experiment, JudgeInput, PhaseLoad, Setup, SignalValues, Signals, Verdict } from '../definition.js';
import { countAll, countWhere, recipeApiInbound } from '../promql.js';
import { callerNon2xx } from '../shared-signals.js';
import {
  countByStatusAndFlag,
  isUpstreamConnectionTermination,
  type AccessLogEntry,
} from '@recipe-mesh/measure/access-log';
import { findSidecarOnlyFailure, type TraceSpan } from '../evidence/trace.js';
import { counterDiff, recipeApiOutboundCluster, sumRetries } from '../evidence/envoy-stats.js';
import { burstsNearIdleClose } from '../load/bursts.js';
import { measureIdleClose } from '../load/idle-close.js';
import { componentDir, componentValue, durationMs } from '../mesh/components.js';
import { phaseFromRecords } from '../load/phase.js';
import { callerFailures, envoyRetriesOf, recipeApiInboundLines } from '../k8s-side.js';

/**
 * "Debugging HTTP 503 UC Errors in Istio Service Mesh": the sidecar keeps its connections to the
 * app for up to 1 h (DestinationRule connectionPool.http.idleTimeout default), Node closes an idle
 * keep-alive connection after its keepAliveTimeout; when a request is written onto a connection
 * in the instant the app closes it, the sidecar answers 503 UC
 * `upstream_reset_before_response_started{connection_termination}` and the app never sees it.
 */

/** Shortened from Node's 5 s so that a run takes seconds; the mechanism is the same. */
export const appKeepAliveMs = 500;
/** The article's fix: longer than any idle gap the proxy leaves a pooled connection in. */
export const articleKeepAliveMs = 45_000;
/** The mesh component of the proxy-side fix; its DestinationRule value is the one value of this knob. */
export const idleTimeoutComponent = 'idle-timeout';
const idleTimeoutField = '/spec/trafficPolicy/connectionPool/http/idleTimeout';
/** Below the app's keepAliveTimeout (500 ms advertised, ~1.5 s real), so the sidecar always closes first. */
export const proxyIdleTimeoutMs = durationMs(
  componentValue(idleTimeoutComponent, 'DestinationRule', 'recipe-api', idleTimeoutField),
);

const recipeSidecarService = sidecarServiceName('recipe-api');
const inboundCluster = 'inbound|4000||';

export interface HopCounts {
  total: number;
  byStatusFlag: Record<string, number>;
}

/** One load phase: what the caller saw and what each hop logged. */
export interface UcPhase {
  load: PhaseLoad;
  bursts: number;
  /** recipe-api's sidecar, inbound listener → app. */
  inbound: HopCounts;
  /** The matching UC lines (all of them; the report shows five). */
  connectionTerminations: AccessLogEntry[];
  /** web-api's sidecar, outbound listener → recipe-api's sidecar (empty when the load skips it). */
  outbound: HopCounts;
  /** Envoy retry counters that moved (upstream_rq_retry*), per sidecar. */
  retries: { inbound: Record<string, number>; outbound: Record<string, number> };
}

export interface UcEvidence {
  /** What recipe-api actually waited before closing an idle connection (keepAliveTimeout + Node's buffer); null: longer than the probe waited. */
  idleCloseMs: number | null;
  baseline: PhaseLoad;
  /** Bursts sent straight to recipe-api's sidecar, as a caller's sidecar does: the hop in question, tightest timing. */
  direct: UcPhase;
  /** The same bursts through the ingress, web-api and web-api's sidecar with Istio's default retries. */
  throughMesh: UcPhase;
  /** A trace with a UC span of recipe-api's sidecar and no recipe-api span under it. */
  trace: TraceSpan[] | null;
  tracesSearched: number;
  /** The retry policies in force (from the lab's mesh description), for the retries finding. */
  retryPolicy: { istioVersion: string; outboundRetryOn: string; inboundRetryOn: string };
}

const diff = counterDiff;
const hop = (entries: AccessLogEntry[]): HopCounts => ({
  total: entries.length,
  byStatusFlag: countByStatusAndFlag(entries),
});
const fiveXx = (h: HopCounts) =>
  Object.entries(h.byStatusFlag)
    .filter(([k]) => k.startsWith('5'))
    .reduce((n, [, v]) => n + v, 0);
const clientNon2xx = (p: PhaseLoad) =>
  Object.entries(p.byStatusFlag)
    .filter(([k]) => !k.startsWith('2'))
    .reduce((n, [, v]) => n + v, 0);

/** Concurrent requests per burst: each one lands on its own pooled connection. */
const burstSize = 20;
/** Enough resets to make the point; the load stops there instead of running its full duration. */
const enoughResets = 3;

/** Fewer requests than this through recipe-api's sidecar cannot show the race's absence. */
export const minInboundRequests = 100;

/** increase() extrapolates over the scrape window, so one event can read 0.9 on Prometheus. */
const atLeastOne = 0.5;

export const ucSignals = {
  required: {
    ucResets: {
      title: "503 UC with connection_termination at recipe-api's sidecar",
      unit: 'responses',
      lab: '.lab/logs/recipe-api-sidecar.access.log (Istio text format), both phases',
      labSource: { kind: 'access-log', proxy: 'recipe-api-sidecar' },
      k8s: 'istio_requests_total{reporter="destination",destination_workload="recipe-api",response_code="503",response_flags="UC"} and kubectl logs deploy/recipe-api -c istio-proxy',
      promql: countWhere('istio_requests_total', recipeApiInbound, 'response_code="503",response_flags="UC"'),
    },
    inboundRequests: {
      title: "requests through recipe-api's sidecar",
      unit: 'requests',
      lab: '.lab/logs/recipe-api-sidecar.access.log, inbound cluster',
      labSource: { kind: 'access-log', proxy: 'recipe-api-sidecar' },
      k8s: 'istio_requests_total{reporter="destination",destination_workload="recipe-api"}',
      promql: countAll('istio_requests_total', recipeApiInbound),
    },
    inbound5xx: {
      title: "5xx answered by recipe-api's sidecar (UC included)",
      unit: 'responses',
      lab: '.lab/logs/recipe-api-sidecar.access.log, status 5xx',
      labSource: { kind: 'access-log', proxy: 'recipe-api-sidecar' },
      k8s: 'istio_requests_total{reporter="destination",destination_workload="recipe-api",response_code=~"5.."}',
      promql: countWhere('istio_requests_total', recipeApiInbound, 'response_code=~"5.."'),
    },
    callerNon2xx,
  },
  optional: {
    sidecarOnlyTrace: {
      title: 'traces with a sidecar-only 503 UC (no recipe-api span)',
      unit: 'traces',
      lab: '.lab/traces/spans.ndjson (npm run lab -- trace <id>)',
      labSource: { kind: 'traces' },
      k8s: `Tempo: { resource.service.name = "${recipeSidecarService}" && span.response_flags = "UC" }`,
    },
    envoyRetries: {
      title: "retries Envoy made (Istio's defaults)",
      unit: 'retries',
      lab: 'Envoy admin /stats upstream_rq_retry of both sidecars',
      labSource: { kind: 'envoy-stats', proxy: 'web-api-sidecar' },
      k8s: 'envoy_cluster_upstream_rq_retry{cluster_name=~".*recipe-api.*"}',
      promql:
        'sum(increase(envoy_cluster_upstream_rq_retry{namespace="$namespace",cluster_name=~".*recipe-api.*"}[$window]))',
    },
  },
} satisfies Signals<string, string>;
type UcRequired = keyof typeof ucSignals.required;
type UcOptional = keyof typeof ucSignals.optional;

export function readUcSignals(e: UcEvidence): SignalValues<UcRequired, UcOptional> {
  const phases = [e.direct, e.throughMesh];
  const total = (f: (p: UcPhase) => number) => phases.reduce((n, p) => n + f(p), 0);
  return {
    ucResets: total((p) => p.connectionTerminations.length),
    inboundRequests: total((p) => p.inbound.total),
    inbound5xx: total((p) => fiveXx(p.inbound)),
    callerNon2xx: total((p) => clientNon2xx(p.load)),
    sidecarOnlyTrace: e.trace ? 1 : 0,
    envoyRetries: total((p) => sumRetries(p.retries.inbound) + sumRetries(p.retries.outbound)),
  };
}

export function judge503Uc(v: JudgeInput<UcRequired, UcOptional>): Verdict {
  const reasons = [
    `${v.ucResets} of ${v.inboundRequests} requests through recipe-api's sidecar answered 503 UC upstream_reset_before_response_started{connection_termination}; ${v.inbound5xx} answered 5xx in all; the caller saw ${v.callerNon2xx} non-2xx`,
  ];
  if (v.sidecarOnlyTrace !== undefined && v.sidecarOnlyTrace !== null)
    reasons.push(
      `${v.sidecarOnlyTrace} trace(s) with recipe-api's sidecar answering 503 UC and no recipe-api span under it`,
    );
  if (v.ucResets >= atLeastOne) return { outcome: 'incident', reasons };
  if (v.inboundRequests < minInboundRequests) {
    return {
      outcome: 'inconclusive',
      reasons: [
        ...reasons,
        `fewer than ${minInboundRequests} requests reached the hop: too little evidence that the race is gone`,
      ],
    };
  }
  if (v.inbound5xx + v.callerNon2xx >= atLeastOne)
    return { outcome: 'inconclusive', reasons: [...reasons, 'no UC, but other failures: something else is wrong'] };
  return { outcome: 'healthy', reasons };
}

const incidentSetup: Setup = {
  describe: [
    `recipe-api keepAliveTimeout ${appKeepAliveMs} ms (PUT /faults {"keepAliveTimeoutMs":${appKeepAliveMs}}; Node 18–24 default 5000 ms, Node adds a 1 s keepAliveTimeoutBuffer)`,
    "recipe-api's sidecar keeps Istio's default upstream idle timeout of 1 h towards the app",
    "Istio's default retries unchanged (1.24+: outbound connect-failure,refused-stream,unavailable,cancelled — 503 dropped by istio/istio#52111; inbound reset-before-request)",
  ],
  appFaults: { 'recipe-api': { keepAliveTimeoutMs: appKeepAliveMs } },
  mesh: [],
};

export const uc503: Experiment<UcEvidence, UcRequired, UcOptional> = {
  name: '503-uc',
  title: 'Envoy 503 UC when the app closes a pooled keep-alive connection',
  incident: {
    title: 'Debugging HTTP 503 UC Errors in Istio Service Mesh',
    source: 'the blog post of that title (docs/experiments.md); envoyproxy/envoy#47468 for the retry question',
  },
  hypothesis:
    'recipe-api closes idle keep-alive connections after keepAliveTimeout (+1 s Node buffer) while its sidecar would keep them 1 h. Traffic that pauses for about that long makes the sidecar write requests onto connections the app is closing: those requests end 503 UC upstream_reset_before_response_started{connection_termination} at the sidecar and never reach recipe-api.',
  incidentSetup,
  fixes: [
    {
      name: 'app-keepalive',
      summary: `Raise the app's keepAliveTimeout (the article's ${articleKeepAliveMs / 1000} s) so the app is not the side that closes pooled connections; pair it with an idle timeout below it on the proxy, since Istio's inbound default is 1 h.`,
      setup: {
        describe: [
          `recipe-api keepAliveTimeout ${articleKeepAliveMs} ms (PUT /faults {"keepAliveTimeoutMs":${articleKeepAliveMs}})`,
        ],
        appFaults: { 'recipe-api': { keepAliveTimeoutMs: articleKeepAliveMs } },
        mesh: [],
      },
      production: [
        {
          kind: 'node-setting',
          title: 'Node: keep-alive longer than the proxy keeps idle connections',
          snippet: `server.keepAliveTimeout = 45_000; // env KEEP_ALIVE_TIMEOUT_MS=45000\nserver.headersTimeout = 46_000;  // must exceed keepAliveTimeout`,
          repoFile: 'services/platform/src/http-server.ts (setServerTimeouts)',
        },
      ],
    },
    {
      name: 'proxy-idle-timeout',
      summary: `Make the sidecar close idle connections first: connectionPool.http.idleTimeout below the app's keepAliveTimeout (${proxyIdleTimeoutMs} ms vs ${appKeepAliveMs} ms here, from istio/faults/${idleTimeoutComponent}).`,
      setup: {
        describe: [
          `recipe-api keepAliveTimeout ${appKeepAliveMs} ms (as in the incident)`,
          `recipe-api sidecar inbound cluster idle timeout ${proxyIdleTimeoutMs} ms (DestinationRule connectionPool.http.idleTimeout)`,
        ],
        appFaults: { 'recipe-api': { keepAliveTimeoutMs: appKeepAliveMs } },
        mesh: [idleTimeoutComponent],
      },
      production: [
        {
          kind: 'istio-resource',
          title: "Istio: the sidecar's idle timeout below the app's keep-alive",
          snippet: readFileSync(path.join(componentDir(idleTimeoutComponent), 'kustomization.yaml'), 'utf8').trimEnd(),
          repoFile: `istio/faults/${idleTimeoutComponent}/kustomization.yaml (make fault FAULT=${idleTimeoutComponent}; --target k8s applies it, the lab translates it)`,
        },
      ],
    },
  ],
  load: {
    describe: `Bursts of ${burstSize} concurrent GETs, each burst started inside the window in which the previous burst's connections expire (idle-close time of recipe-api, measured, + 10–90 % of the previous burst's duration), so pooled connections expire while requests are written onto them: first straight to recipe-api's sidecar inbound listener (as a caller's sidecar sends, --duration s), then through the ingress, web-api and its sidecar with Istio's default retries (0.6 × --duration). Each phase stops early once ${enoughResets} UC resets are logged. Baseline: 2 bursts through the ingress before the fault.`,
    defaultDurationS: 12,
  },
  signals: ucSignals,
  verdictRule: `incident when recipe-api's sidecar logged ≥1 503 UC upstream_reset_before_response_started{connection_termination}; healthy when none of ≥${minInboundRequests} requests through it failed and the caller saw only 2xx`,
  k8s: {
    load: {
      describe: `Bursts of ${burstSize} concurrent GETs through the ingress gateway, each burst started inside the window in which the previous burst's connections expire (load/bursts.ts as in the lab; idle gap ${appKeepAliveMs + 1000} ms: keepAliveTimeout + Node's 1 s keepAliveTimeoutBuffer, as the lab caps its measured value), for --duration s`,
      drive: async (ctx) =>
        (
          await burstsNearIdleClose((i) => `${ctx.ingress}/api/recipes/${40 + (i % 10)}?via=http`, '', {
            burstSize,
            idleMs: appKeepAliveMs + 1000,
            untilMs: Date.now() + ctx.durationS * 1000,
          })
        ).records,
    },
    exact: {
      ucResets: recipeApiInboundLines('503 UC connection_termination', isUpstreamConnectionTermination),
      inboundRequests: recipeApiInboundLines(''),
      inbound5xx: recipeApiInboundLines('5xx', (e) => e.responseCode >= 500),
      callerNon2xx: callerFailures,
      envoyRetries: envoyRetriesOf(['web-api', 'recipe-api']),
    },
  },
  async run(ctx) {
    const { target } = ctx;
    const flagsHeader = target.responseFlagsHeader;
    const viaMesh = (i: number) => `${target.urls.ingress}/api/recipes/${40 + (i % 10)}?via=http`;
    const direct = (i: number) => `${target.urls.recipeApiSidecar}/recipes/${40 + (i % 10)}`;
    ctx.log(`baseline: 2 bursts of ${burstSize} through the ingress, no fault`);
    const baseline = await burstsNearIdleClose(viaMesh, flagsHeader, {
      burstSize,
      idleMs: 300,
      untilMs: Date.now() + 500,
    });

    await ctx.applySetup();
    // Measured, not assumed (keepAliveTimeout + Node's buffer); capped so that a fix that keeps
    // connections for 45 s does not stall the run: its traffic keeps the incident's rhythm.
    const incidentIdleMs = appKeepAliveMs + 1000;
    const idleCloseMs = await measureIdleClose(target.urls.recipeApi, '/recipes/42', incidentIdleMs * 2);
    ctx.log(
      `recipe-api closes an idle connection after ${idleCloseMs === null ? `more than ${incidentIdleMs * 2}` : idleCloseMs.toFixed(0)} ms`,
    );
    const idleMs = idleCloseMs ?? incidentIdleMs;
    const started = Date.now();

    const phase = async (
      name: string,
      url: (i: number) => string,
      seconds: number,
      /** The proxy every request of this phase passes first, so logs one line per answered request. */
      entry: 'recipe-api-sidecar' | 'ingress',
    ): Promise<UcPhase> => {
      const mark = await target.accessLogMark();
      const retriesBefore = await retryCounters();
      ctx.log(
        `${name}: bursts of ${burstSize} about every ${Math.round(idleMs)} ms for up to ${seconds} s (stops once ${enoughResets} UC resets are logged)`,
      );
      const inboundOf = (logs: Record<string, AccessLogEntry[]>) =>
        (logs['recipe-api-sidecar'] ?? []).filter(
          (e) => (e.upstreamCluster ?? '').startsWith(inboundCluster) || e.responseFlags.includes('UC'),
        );
      const load = await burstsNearIdleClose(url, flagsHeader, {
        burstSize,
        idleMs,
        untilMs: Date.now() + seconds * 1000,
        stop: async () =>
          inboundOf(await target.accessLogSince(mark)).filter(isUpstreamConnectionTermination).length >= enoughResets,
      });
      const answered = load.records.filter((r) => r.status > 0).length;
      const logs = await target.accessLogWhen(mark, (l) => (l[entry] ?? []).length >= answered, {
        what: `${answered} answered requests of "${name}" logged by ${entry}`,
      });
      const retriesAfter = await retryCounters();
      const inbound = inboundOf(logs);
      return {
        load: phaseFromRecords(name, load.records),
        bursts: load.bursts,
        inbound: hop(inbound),
        connectionTerminations: inbound.filter(isUpstreamConnectionTermination),
        outbound: hop(
          (logs['web-api-sidecar'] ?? []).filter((e) => (e.upstreamCluster ?? '').startsWith(recipeApiOutboundCluster)),
        ),
        retries: {
          inbound: diff(retriesAfter.inbound, retriesBefore.inbound),
          outbound: diff(retriesAfter.outbound, retriesBefore.outbound),
        },
      };
    };
    const retryCounters = async () => ({
      inbound: await target.envoyStats('recipe-api-sidecar', 'upstream_rq_retry'),
      outbound: await target.envoyStats('web-api-sidecar', 'upstream_rq_retry'),
    });
    const directPhase = await phase(
      ctx.fix ? 'with fix, straight to the sidecar' : 'straight to the sidecar',
      direct,
      ctx.durationS,
      'recipe-api-sidecar',
    );
    const meshPhase = await phase(
      ctx.fix ? 'with fix, through the mesh' : 'through the mesh',
      viaMesh,
      Math.ceil(ctx.durationS * 0.6),
      'ingress',
    );

    // Envoy's OpenTelemetry tracer flushes its spans every 5 s: wait for the affected trace.
    const anyReset = directPhase.connectionTerminations.length + meshPhase.connectionTerminations.length > 0;
    let tracesSearched = 0;
    const found = await target.waitForTrace(
      (traces) => {
        tracesSearched = traces.length;
        return findSidecarOnlyFailure(traces, recipeSidecarService, 'recipe-api');
      },
      {
        sinceMs: started - 1000,
        timeoutMs: anyReset ? 7000 : 0,
      },
    );
    const mesh = target.mesh();
    const routeOf = (proxy: string, listener: string) =>
      mesh.proxies.find((p) => p.name === proxy)?.listeners.find((l) => l.name === listener)?.route;
    return {
      retryPolicy: {
        istioVersion: mesh.istioVersion,
        outboundRetryOn: routeOf('web-api-sidecar', 'outbound-recipe-api-http')?.retries?.retryOn ?? 'none',
        inboundRetryOn: routeOf('recipe-api-sidecar', 'inbound-http')?.retries?.retryOn ?? 'none',
      },
      idleCloseMs,
      baseline: phaseFromRecords('baseline', baseline.records),
      direct: directPhase,
      throughMesh: meshPhase,
      trace: found?.trace ?? null,
      tracesSearched,
    };
  },

  readSignals: readUcSignals,
  judge: judge503Uc,

  present(e) {
    const sum = sumRetries;
    const mesh = e.throughMesh;
    const meshUc = mesh.connectionTerminations.length;
    const meshClientFailures = clientNon2xx(mesh.load);
    const findings: string[] = [];
    if (e.idleCloseMs !== null)
      findings.push(
        `recipe-api closed an idle keep-alive connection after ${e.idleCloseMs.toFixed(0)} ms (keepAliveTimeout + Node's keepAliveTimeoutBuffer)`,
      );
    const policy = e.retryPolicy;
    if (meshUc > 0) {
      const envoyRetries = sum(mesh.retries.outbound);
      const passedOn = Object.entries(mesh.outbound.byStatusFlag)
        .filter(([k]) => k.startsWith('503'))
        .reduce((n, [, v]) => n + v, 0);
      findings.push(
        `Retries, through the mesh (Istio ${policy.istioVersion} defaults): ${meshUc} UC reset(s) at recipe-api's sidecar; web-api's sidecar retried ${envoyRetries} time(s) (outbound retry_on ${policy.outboundRetryOn}) and passed ${passedOn} 503(s) on to web-api; web-api's own retry of idempotent calls (UPSTREAM_RETRIES) absorbed ${Math.max(0, passedOn - meshClientFailures)}; the caller saw ${meshClientFailures}.`,
      );
    } else {
      findings.push(
        `Retries: no UC reset happened during the through-the-mesh phase (${mesh.inbound.total} requests), so this run cannot say whether retries hide it.`,
      );
    }
    const allUc = e.direct.connectionTerminations.length + meshUc;
    if (allUc > 0) {
      findings.push(
        `recipe-api's sidecar inbound retry (retry_on ${policy.inboundRetryOn}) fired ${sum(e.direct.retries.inbound) + sum(mesh.retries.inbound)} time(s) for ${allUc} reset(s): the request had already been written when the app closed the socket, which reset-before-request does not cover (envoyproxy/envoy#47468).`,
      );
    }
    return {
      load: [e.baseline, e.direct.load, mesh.load],
      signals: [
        {
          name: '503 UC at recipe-api sidecar, straight',
          baseline: null,
          observed: e.direct.connectionTerminations.length,
          unit: 'responses',
        },
        { name: '503 UC at recipe-api sidecar, through the mesh', baseline: null, observed: meshUc, unit: 'responses' },
        {
          name: 'non-2xx seen by the caller, through the mesh',
          baseline: null,
          observed: meshClientFailures,
          unit: 'responses',
        },
        { name: 'idle close of recipe-api connections', baseline: null, observed: e.idleCloseMs, unit: 'ms' },
      ],
      metricDeltas: [],
      accessLog: [...e.direct.connectionTerminations, ...mesh.connectionTerminations]
        .slice(0, 5)
        .map((entry) => ({ proxy: 'recipe-api-sidecar', entry })),
      accessLogCounts: {
        'recipe-api-sidecar → app (straight)': e.direct.inbound.byStatusFlag,
        'web-api-sidecar → recipe-api (mesh)': mesh.outbound.byStatusFlag,
        'recipe-api-sidecar → app (mesh)': mesh.inbound.byStatusFlag,
      },
      trace: e.trace
        ? {
            spans: e.trace,
            why: "recipe-api's sidecar answered 503 UC and no recipe-api span exists under it: the app never saw the request",
          }
        : null,
      findings,
    };
  },
};
