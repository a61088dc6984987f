import { readFileSync } from 'node:fs';
import path from 'node:path';
import { encodeCursor } from '@recipe-mesh/recipe-api/domain/cursor';
import type { AccessLogEntry } from '@recipe-mesh/measure/access-log';
import { countByStatusAndFlag, isUpstreamConnectionTermination } from '@recipe-mesh/measure/access-log';
import { findListener } from '@recipe-mesh/lab/mesh/description';
import { delta, describeDelta, type MetricDelta } from '@recipe-mesh/measure/metric-text';
import type { Experiment, JudgeInput, PhaseLoad, Setup, SignalValues, Signals, Verdict } from '../definition.js';
import { countAll, countWhere, recipeApiInbound, serviceSeries } from '../promql.js';
import { pacedLoad } from '../load/paced.js';
import { phaseFromRecords } from '../load/phase.js';
import { componentDir } from '../mesh/components.js';
import { counterDiff, sumRetries } from '../evidence/envoy-stats.js';
import { envoyRetriesOf, recipeApiInboundLines } from '../k8s-side.js';

/**
 * Retried POSTs create twice. A mesh retry policy that retries resets (and the 503 the server's
 * sidecar turns a reset into) replays a POST whose connection died *after* the app committed it:
 * the caller sees one 201, the store holds two or more recipes. Istio removed 503 from its default
 * retries for this reason (istio/istio#52111: unsafe for non-idempotent requests); an explicit
 * VirtualService `retries` with `reset`/`503` brings it back. The fix is an `Idempotency-Key` per
 * client request, the same on every retry, which recipe-api deduplicates (Stripe's idempotent
 * requests; the IETF draft "The Idempotency-Key HTTP Header Field").
 */

/** Share of creates whose connection recipe-api destroys after the commit. */
export const resetPercent = 30;
/** The mesh component that adds the retry policy (VirtualService recipe-api, both routes). */
export const retriesComponent = 'retries';
const postRate = 20;
const postLanes = 4;
/** The fault must have fired this often for either verdict to mean anything. */
export const minResets = 3;
export const minPosts = 20;
const namePrefix = 'post-retry';
const ownerId = 'dup-client';

/**
 * Prometheus' increase() extrapolates each counter over its own samples, so two counters of the
 * same events can differ by a little; the lab reads exact counts (tolerance 0.5).
 */
const tolerance = (posts: number) => Math.max(0.5, posts * 0.02);

export interface DuplicatesEvidence {
  load: PhaseLoad;
  postsSent: number;
  /** recipes_created_total of recipe-api, before → after the load. */
  recipesCreated: number | null;
  /** Recipes in recipe-api's store per client request (its unique name), read back through GET /recipes. */
  recipesPerRequest: Record<string, number>;
  /** recipe-api's sidecar: POSTs it answered 503 UC because the app reset the connection. */
  resets: AccessLogEntry[];
  /** recipe-api's sidecar inbound POST lines by `status flags`; web-api's sidecar outbound ones. */
  inbound: Record<string, number>;
  outbound: Record<string, number>;
  /** upstream_rq_retry* of web-api's sidecar that moved during the load. */
  meshRetries: Record<string, number>;
  /** The retry policy web-api's sidecar ran with towards recipe-api (from the lab's mesh). */
  retryOn: string;
  idempotencyKeys: string;
  metricDeltas: MetricDelta[];
}

export const duplicateSignals = {
  required: {
    postsSent: {
      title: 'POST /api/recipes the caller sent',
      unit: 'requests',
      lab: "the load's own records",
      labSource: { kind: 'client' },
      k8s: 'web-api http_server_request_duration_seconds_count{method="POST",route="/api/recipes"}',
      promql: countAll(
        'http_server_request_duration_seconds_count',
        `${serviceSeries('web-api')},method="POST",route="/api/recipes"`,
      ),
    },
    recipesCreated: {
      title: "recipes recipe-api's store created",
      unit: 'recipes',
      lab: 'recipe-api /metrics recipes_created_total, before → after the load',
      labSource: { kind: 'metric', service: 'recipe-api', family: 'recipes_created' },
      k8s: 'recipes_created_total{service="recipe-api"}',
      promql: `sum(increase(recipes_created_total{${serviceSeries('recipe-api')}}[$window]))`,
    },
    resets: {
      title: "POSTs recipe-api's sidecar answered 503 UC (connection reset after the create)",
      unit: 'responses',
      lab: '.lab/logs/recipe-api-sidecar.access.log, POST lines 503 UC upstream_reset_before_response_started',
      labSource: { kind: 'access-log', proxy: 'recipe-api-sidecar' },
      k8s: 'istio_requests_total{reporter="destination",destination_workload="recipe-api",response_code="503",response_flags="UC"}',
      promql: countWhere('istio_requests_total', recipeApiInbound, 'response_code="503",response_flags="UC"'),
    },
  },
  optional: {
    requestsWithDuplicates: {
      title: 'client requests with more than one recipe in the store',
      unit: 'requests',
      lab: 'GET /recipes after the run, recipes grouped by the unique name each client request sent',
      labSource: { kind: 'client' },
      k8s: 'not read: list the recipes of the run with GET /recipes and group them by name',
    },
    meshRetries: {
      title: "retries web-api's sidecar made towards recipe-api",
      unit: 'retries',
      lab: 'Envoy admin /stats upstream_rq_retry of web-api-sidecar',
      labSource: { kind: 'envoy-stats', proxy: 'web-api-sidecar' },
      k8s: 'envoy_cluster_upstream_rq_retry{cluster_name=~"outbound.*recipe-api.*"}',
      promql:
        'sum(increase(envoy_cluster_upstream_rq_retry{namespace="$namespace",cluster_name=~"outbound.*recipe-api.*"}[$window]))',
    },
  },
} satisfies Signals<string, string>;
type DupRequired = keyof typeof duplicateSignals.required;
type DupOptional = keyof typeof duplicateSignals.optional;

export function readDuplicateSignals(e: DuplicatesEvidence): SignalValues<DupRequired, DupOptional> {
  return {
    postsSent: e.postsSent,
    recipesCreated: e.recipesCreated,
    resets: e.resets.length,
    requestsWithDuplicates: Object.values(e.recipesPerRequest).filter((n) => n > 1).length,
    meshRetries: sumRetries(e.meshRetries),
  };
}

export function judgeDuplicates(v: JudgeInput<DupRequired, DupOptional>): Verdict {
  const extra = v.recipesCreated - v.postsSent;
  const allowed = tolerance(v.postsSent);
  const dupRequests = v.requestsWithDuplicates ?? null;
  const retries = v.meshRetries ?? null;
  const reasons = [
    `${Math.round(v.postsSent)} client POSTs → ${Math.round(v.recipesCreated)} recipes created in recipe-api's store (${extra >= 0 ? '+' : ''}${Math.round(extra)})`,
    `${Math.round(v.resets)} POSTs reset after the create (503 UC at recipe-api's sidecar); mesh retries: ${retries === null ? 'not read' : Math.round(retries)}`,
  ];
  if (dupRequests !== null) reasons.push(`${dupRequests} client request(s) with more than one recipe in the store`);
  if (v.postsSent < minPosts || v.resets < minResets)
    return {
      outcome: 'inconclusive',
      reasons: [...reasons, `needs ≥${minPosts} POSTs and ≥${minResets} resets: the fault barely fired`],
    };
  // Where the store was read per request (the lab), it must agree with the counter.
  if (extra > allowed && (dupRequests === null || dupRequests > 0)) return { outcome: 'incident', reasons };
  if (Math.abs(extra) <= allowed && (dupRequests === null || dupRequests === 0))
    return { outcome: 'healthy', reasons: [...reasons, 'exactly one recipe per client request'] };
  return {
    outcome: 'inconclusive',
    reasons: [...reasons, 'neither duplicates nor one recipe per request: some POSTs never reached the store?'],
  };
}

const readComponentFile = (name: string) =>
  readFileSync(path.join(componentDir(name), 'kustomization.yaml'), 'utf8').trimEnd();

const setup = (idempotencyKeys: 'client' | 'per-request', describe: string): Setup => ({
  describe: [
    `recipe-api destroys the connection of ${resetPercent}% of POST /recipes after the store committed the create (PUT /faults {"resetAfterCreate":${resetPercent}})`,
    `istio/faults/${retriesComponent}: VirtualService recipe-api retries 3 times on connect-failure,refused-stream,unavailable,cancelled,reset,503 (web-api's sidecar)`,
    describe,
  ],
  appFaults: {
    'recipe-api': { resetAfterCreate: resetPercent },
    ...(idempotencyKeys === 'per-request' ? { 'web-api': { idempotencyKeys } } : {}),
  },
  mesh: [retriesComponent],
});

export const postRetryDuplicates: Experiment<DuplicatesEvidence, DupRequired, DupOptional> = {
  name: 'post-retry-duplicates',
  title: 'A mesh retry of a POST that was already committed creates the recipe twice',
  incident: {
    title: 'Retries of non-idempotent requests: duplicate writes',
    source:
      'istio/istio#52111 (503 dropped from Istio\'s default retries as unsafe for non-idempotent requests); Stripe\'s idempotent requests and the IETF draft "The Idempotency-Key HTTP Header Field"',
  },
  hypothesis: `With a VirtualService retry policy that includes reset and 503, web-api's sidecar replays a POST whose connection recipe-api reset after it had stored the recipe (recipe-api's sidecar answers that reset 503 UC). The caller gets one 201; recipe-api's store holds a recipe per attempt: more recipes than client requests, counted in the store. With one Idempotency-Key per client request, the same on every retry, recipe-api answers the replays from its ledger: exactly one recipe per request under the same resets.`,
  incidentSetup: setup(
    'client',
    'web-api forwards only the caller\'s Idempotency-Key (the load sends none): {"idempotencyKeys":"client"}, the default',
  ),
  fixes: [
    {
      name: 'idempotency-key',
      summary:
        "web-api sends one Idempotency-Key per client request (the caller's, or one it mints), and every retry below it — its own and the mesh's — carries the same key; recipe-api's ledger answers a replay with the first result instead of creating again.",
      setup: setup(
        'per-request',
        'web-api mints one Idempotency-Key per client request without one (PUT /faults {"idempotencyKeys":"per-request"})',
      ),
      production: [
        {
          kind: 'code-pattern',
          title: 'One key per client request, minted at the edge, forwarded unchanged on every retry',
          snippet: [
            "import { randomUUID } from 'node:crypto';",
            "const key = req.get('idempotency-key') ?? randomUUID(); // once per client request",
            "await fetch(`${recipeApi}/recipes`, { method: 'POST', headers: { 'idempotency-key': key, 'content-type': 'application/json' }, body });",
            '// recipe-api: a replay with the same key and body answers the first result (200, idempotent-replayed: true)',
          ].join('\n'),
          repoFile:
            'services/web-api/src/routes/recipes.ts (per-request key), services/recipe-api/src/data-access/idempotency-ledger.ts (the ledger every instance shares in Redis)',
        },
        {
          kind: 'istio-resource',
          title: 'The retry policy stays; it is safe once POSTs carry a key',
          snippet: readComponentFile(retriesComponent),
          repoFile: `istio/faults/${retriesComponent}/kustomization.yaml (make fault FAULT=${retriesComponent})`,
        },
      ],
    },
  ],
  load: {
    describe: `${postRate} POST /api/recipes?via=http per second (${postLanes} at once) through the ingress, each with a unique recipe name and no Idempotency-Key; afterwards the run's recipes are read back from recipe-api's store (GET /recipes) and grouped by name.`,
    defaultDurationS: 3,
  },
  signals: duplicateSignals,
  verdictRule: `incident when recipe-api created more recipes than the caller sent POSTs (and, where the store is read per request, some request has several); healthy when it created one per POST (±max(0.5, 2 %)) and none has several — each with ≥${minPosts} POSTs and ≥${minResets} resets after the create`,
  k8s: {
    load: {
      describe: `${postRate} POST /api/recipes?via=http per second through the ingress gateway, ${postLanes} lanes, each with its own recipe name and no Idempotency-Key, for --duration s (load/paced.ts and the lab's body)`,
      drive: (ctx) => {
        const runId = Date.now().toString(36);
        return pacedLoad({
          request: (i) => ({
            url: `${ctx.ingress}/api/recipes?via=http`,
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(recipeBody(`${namePrefix} ${runId} #${i}`)),
          }),
          ratePerSecond: postRate,
          lanes: postLanes,
          durationMs: ctx.durationS * 1000,
        });
      },
    },
    exact: {
      postsSent: { from: 'client', describe: "the load's own records", reduce: (records) => records.length },
      recipesCreated: {
        from: 'metric',
        service: 'recipe-api',
        family: 'recipes_created_total',
        describe: 'recipes_created_total of every recipe-api pod, before → after the load',
      },
      resets: recipeApiInboundLines(
        'POST 503 UC connection_termination',
        (e) => e.method === 'POST' && isUpstreamConnectionTermination(e),
      ),
      meshRetries: envoyRetriesOf(['web-api']),
    },
  },
  async run(ctx) {
    const { target } = ctx;
    const runId = Date.now().toString(36);
    // Straight to recipe-api before any fault: the newest id, where this run's recipes start.
    const marker = await fetch(`${target.urls.recipeApi}/recipes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(recipeBody(`${namePrefix} ${runId} marker`)),
      signal: AbortSignal.timeout(5000),
    });
    if (marker.status !== 201) throw new Error(`marker POST to recipe-api: ${marker.status}`);
    const afterId = ((await marker.json()) as { recipe: { id: number } }).recipe.id;

    await ctx.applySetup();
    const outboundListener = findListener(target.mesh(), 'web-api-sidecar', 'outbound-recipe-api-http');
    const inboundListener = findListener(target.mesh(), 'recipe-api-sidecar', 'inbound-http');
    const retryOn = outboundListener.route.retries;
    const before = await target.scrape('recipe-api');
    const retriesBefore = await target.envoyStats('web-api-sidecar', 'upstream_rq_retry');
    const mark = await target.accessLogMark();
    ctx.log(`${postRate} POST/s through the ingress for ${ctx.durationS} s, ${resetPercent}% reset after the create`);
    const records = await pacedLoad({
      request: (i) => ({
        url: `${target.urls.ingress}/api/recipes?via=http`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(recipeBody(`${namePrefix} ${runId} #${i}`)),
        flagsHeader: target.responseFlagsHeader,
      }),
      ratePerSecond: postRate,
      lanes: postLanes,
      durationMs: ctx.durationS * 1000,
    });
    const answered = records.filter((r) => r.status > 0).length;
    const logs = await target.accessLogWhen(mark, (l) => (l.ingress ?? []).length >= answered, {
      what: `${answered} answered POSTs logged by the ingress`,
    });
    const after = await target.scrape('recipe-api');
    const retriesAfter = await target.envoyStats('web-api-sidecar', 'upstream_rq_retry');
    // A sidecar logs its inbound and outbound listeners in one file: keep the hop's cluster only.
    // The lab's recipe-api sidecar fronts every instance, each under its own inbound cluster
    // (`inbound|4000||<instance>` beside the first one's `inbound|4000||`, lab/src/mesh/endpoints.ts),
    // so a hop is every cluster with the listener's name as prefix: after rollout-503 had replaced
    // the second instance, an exact match read 0 of 148 resets.
    const posts = (proxy: string, cluster: string) =>
      (logs[proxy] ?? []).filter((e) => e.method === 'POST' && (e.upstreamCluster ?? '').startsWith(cluster));
    const inbound = posts('recipe-api-sidecar', inboundListener.upstream.cluster);
    const recipesPerRequest = await recipesByName(target.urls.recipeApi, afterId, `${namePrefix} ${runId} #`);
    return {
      load: phaseFromRecords(ctx.fix ? 'POSTs with fix' : 'POSTs', records),
      postsSent: records.length,
      recipesCreated: delta(before, after, 'recipes_created_total'),
      recipesPerRequest,
      resets: inbound.filter(isUpstreamConnectionTermination),
      inbound: countByStatusAndFlag(inbound),
      outbound: countByStatusAndFlag(posts('web-api-sidecar', outboundListener.upstream.cluster)),
      meshRetries: counterDiff(retriesAfter, retriesBefore),
      retryOn: retryOn
        ? `${retryOn.retryOn} (${retryOn.numRetries} retries, status codes ${retryOn.retriableStatusCodes.join(',') || '-'})`
        : 'none',
      idempotencyKeys: ctx.setup.appFaults['web-api']?.idempotencyKeys ?? 'client',
      metricDeltas: [
        describeDelta('recipe-api', before, after, 'recipes_created_total'),
        describeDelta('recipe-api', before, after, 'http_server_request_duration_seconds_count', {
          method: 'POST',
          route: '/recipes',
        }),
      ],
    };
  },

  readSignals: readDuplicateSignals,
  judge: judgeDuplicates,

  present(e) {
    const counts = Object.values(e.recipesPerRequest);
    const histogram: Record<number, number> = {};
    for (const n of counts) histogram[n] = (histogram[n] ?? 0) + 1;
    return {
      load: [e.load],
      signals: [
        { name: 'client POSTs', baseline: null, observed: e.postsSent, unit: 'requests' },
        {
          name: 'recipes created (recipes_created_total)',
          baseline: null,
          observed: e.recipesCreated,
          unit: 'recipes',
        },
        {
          name: 'client requests with >1 recipe in the store',
          baseline: null,
          observed: counts.filter((n) => n > 1).length,
          unit: 'requests',
        },
        { name: "503 UC resets at recipe-api's sidecar", baseline: null, observed: e.resets.length, unit: 'responses' },
        { name: "web-api sidecar's retries", baseline: null, observed: sumRetries(e.meshRetries), unit: 'retries' },
      ],
      metricDeltas: e.metricDeltas,
      accessLog: e.resets.slice(0, 5).map((entry) => ({ proxy: 'recipe-api-sidecar', entry })),
      accessLogCounts: {
        'web-api-sidecar → recipe-api (POST)': e.outbound,
        'recipe-api-sidecar → app (POST)': e.inbound,
      },
      trace: null,
      findings: [
        `store, recipes per client request: ${
          Object.entries(histogram)
            .map(([n, requests]) => `${requests} request(s) with ${n}`)
            .join(', ') || 'none found'
        }`,
        `web-api's sidecar retry policy towards recipe-api: ${e.retryOn}; Idempotency-Key: ${e.idempotencyKeys}`,
        "recipe-api's sidecar turns the reset into 503 UC, so the caller's sidecar retries it on `503` (retriable-status-codes): `reset` alone covers a reset it sees itself",
      ],
    };
  },
};

function recipeBody(name: string) {
  return {
    name,
    cuisine: 'experiment',
    steps: ['Count the copies'],
    ingredients: [{ name: 'salt', quantity: 1, unit: 'g' }],
    ownerId,
    servings: 2,
  };
}

/** Recipes created after `afterId` whose name starts with `prefix`, counted per name, from the store itself. */
async function recipesByName(recipeApi: string, afterId: number, prefix: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let cursor: string | null = encodeCursor(afterId);
  while (cursor) {
    const res = await fetch(`${recipeApi}/recipes?limit=100&cursor=${encodeURIComponent(cursor)}`, {
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) throw new Error(`GET /recipes: ${res.status}`);
    const page = (await res.json()) as { recipes: { name: string }[]; nextCursor: string | null };
    for (const r of page.recipes) if (r.name.startsWith(prefix)) counts[r.name] = (counts[r.name] ?? 0) + 1;
    cursor = page.nextCursor;
  }
  return counts;
}
