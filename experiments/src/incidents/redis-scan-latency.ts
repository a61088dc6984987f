import { Redis } from 'ioredis';
import { redisKeys } from '@recipe-mesh/recipe-api/data-access/keys';
import type { Experiment, JudgeInput, PhaseLoad, Setup, SignalValues, Signals, Verdict } from '../definition.js';
import { serviceSeries } from '../promql.js';
import { percentile, ratio } from '@recipe-mesh/measure/latency';
import {
  delta,
  describeDelta,
  histogramCount,
  histogramDelta,
  histogramQuantile,
  type MetricDelta,
} from '@recipe-mesh/measure/metric-text';
import type { RequestRecord } from '@recipe-mesh/measure/requests';
import {
  quieter,
  redisGetCountQuery,
  redisGetP99,
  redisGetP99Query,
  redisGetSpanSignal,
  redisGetSpans,
} from '../evidence/redis-get.js';
import { pause } from '@recipe-mesh/measure/net';
import { pacedLoad } from '../load/paced.js';
import { phaseFromRecords } from '../load/phase.js';
import { sendRequest } from '../load/http.js';
import { redisGetsOfPods } from '../k8s-side.js';

/**
 * "Debugging Redis Latency": per-user cache invalidation with SCAN MATCH walks the whole keyspace
 * on Redis' single thread; with 200,000 cached views every GET queued behind those SCANs waits,
 * and p99 of cache reads climbs by an order of magnitude while each SCAN looks cheap on its own.
 * The fix keeps a per-user index SET, so invalidation is SMEMBERS + UNLINK of that user's keys.
 */

export const seededUsers = 2_000;
export const viewsPerUser = 100;
/** Lowered from Redis' default 10 ms for the run: one SCAN step is well under it (docs/architecture.md, "Measured facts"). */
export const slowlogThresholdMicros = 100;
const seedPrefix = 'seed-';
const readerId = 'reader-1';
/** Cache reads per second, evenly spaced. */
const readRate = 100;
/** GETs per second the runner sends straight to Redis in each phase (directGetP99Ms). */
const directProbeRate = 50;
/** recipe-api SCAN_COUNT the lab must run with (see labAppEnv). */
export const scanCount = 50_000;
/** Users whose preferences change per second; up to `invalidationLanes` invalidations run at once. */
const invalidationRate = 16;
const invalidationLanes = 8;

export interface RedisLatencyEvidence {
  keysSeeded: number;
  baseline: PhaseLoad;
  underFault: PhaseLoad;
  /** Reads only, after the fault phase (the second quiet phase). */
  after: PhaseLoad;
  /** GET p99 of the quiet phase before and the one after, in seconds; the baseline is the lower. */
  baselineP99sS: [number | null, number | null];
  /** p99 of `redis_command_duration_seconds{command="get"}` between scrapes (histogram_quantile over buckets). */
  getP99: { baselineS: number | null; faultS: number | null; baselineCount: number; faultCount: number };
  /** The same from recipe-api's ioredis `get` spans, exact durations. */
  getSpanP99Ms: { baseline: number | null; fault: number | null; baselineCount: number; faultCount: number };
  /**
   * p99 of GETs a client outside recipe-api sent straight to Redis in the same phases (the lab
   * only; null on a target without Redis at hand): Redis' own answer time, without recipe-api's
   * event loop, which the fault phase's invalidation requests keep busier.
   */
  directGetP99Ms: { baseline: number | null; fault: number | null };
  invalidations: number;
  invalidationP99S: number | null;
  strategy: string;
  /** SLOWLOG entries during the fault phase, by command (e.g. { scan: 412 }). */
  slowlog: Record<string, number>;
  slowlogSamples: { command: string; micros: number }[];
  metricDeltas: MetricDelta[];
}

export const minGets = 200;
/**
 * A p99 rise this small is noise, not queueing behind SCAN: one SCAN step with COUNT 50000 blocks
 * Redis ~12 ms (docs/experiments.md), so the incident lifts p99 by several of those.
 */
export const healthyRiseS = 0.004;
export const minInvalidations = 10;

export const redisSignals = {
  required: {
    getP99BaselineS: {
      title: 'p99 of Redis GET before the invalidations',
      unit: 's',
      lab: 'recipe-api /metrics redis_command_duration_seconds{command="get"} buckets: the quieter of the phases before and after',
      labSource: { kind: 'metric', service: 'recipe-api', family: 'redis_command_duration_seconds' },
      k8s: 'the same quantile over the window before the run',
      promql: redisGetP99Query(' offset $window'),
    },
    getP99FaultS: {
      title: 'p99 of Redis GET under invalidations',
      unit: 's',
      lab: 'recipe-api /metrics redis_command_duration_seconds{command="get"} buckets, before/after the fault phase',
      labSource: { kind: 'metric', service: 'recipe-api', family: 'redis_command_duration_seconds' },
      k8s: 'histogram_quantile(0.99, …redis_command_duration_seconds_bucket{command="get"}) over the run',
      promql: redisGetP99Query(''),
    },
    baselineGets: {
      title: 'Redis GETs in the baseline',
      unit: 'commands',
      lab: 'recipe-api /metrics redis_command_duration_seconds_count{command="get"}',
      labSource: { kind: 'metric', service: 'recipe-api', family: 'redis_command_duration_seconds' },
      k8s: 'increase of the GET histogram count over the window before the run',
      promql: redisGetCountQuery(' offset $window'),
    },
    faultGets: {
      title: 'Redis GETs under invalidations',
      unit: 'commands',
      lab: 'recipe-api /metrics redis_command_duration_seconds_count{command="get"}',
      labSource: { kind: 'metric', service: 'recipe-api', family: 'redis_command_duration_seconds' },
      k8s: 'increase of the GET histogram count over the run',
      promql: redisGetCountQuery(''),
    },
    invalidations: {
      title: 'cache invalidations',
      unit: 'invalidations',
      lab: 'recipe-api /metrics cache_invalidation_duration_seconds_count',
      labSource: { kind: 'metric', service: 'recipe-api', family: 'cache_invalidation_duration_seconds' },
      k8s: 'cache_invalidation_duration_seconds_count{service="recipe-api"}',
      promql: `sum(increase(cache_invalidation_duration_seconds_count{${serviceSeries('recipe-api')}}[$window]))`,
    },
  },
  optional: {
    slowlogScans: {
      title: 'SCAN in SLOWLOG',
      unit: 'entries',
      lab: `redis SLOWLOG GET 1000 with slowlog-log-slower-than ${slowlogThresholdMicros}`,
      labSource: { kind: 'redis' },
      k8s: 'kubectl exec deploy/redis -- redis-cli SLOWLOG GET 1000',
    },
    getSpanP99FaultMs: redisGetSpanSignal('p99 of ioredis GET spans under invalidations'),
    directGetP99BaselineMs: {
      title: 'p99 of GETs straight to Redis before the invalidations',
      unit: 'ms',
      lab: `the runner's own Redis client, GET every ${1000 / directProbeRate} ms in each phase (the quieter of the phases before and after)`,
      labSource: { kind: 'redis' },
      k8s: 'not read (Redis is not at hand)',
    },
    directGetP99FaultMs: {
      title: 'p99 of GETs straight to Redis under invalidations',
      unit: 'ms',
      lab: `the runner's own Redis client, GET every ${1000 / directProbeRate} ms during the invalidations`,
      labSource: { kind: 'redis' },
      k8s: 'not read (Redis is not at hand)',
    },
  },
} satisfies Signals<string, string>;
type RedisRequired = keyof typeof redisSignals.required;
type RedisOptional = keyof typeof redisSignals.optional;

export function readRedisSignals(e: RedisLatencyEvidence): SignalValues<RedisRequired, RedisOptional> {
  return {
    getP99BaselineS: e.getP99.baselineS,
    getP99FaultS: e.getP99.faultS,
    baselineGets: e.getP99.baselineCount,
    faultGets: e.getP99.faultCount,
    invalidations: e.invalidations,
    slowlogScans: e.slowlog.scan ?? 0,
    getSpanP99FaultMs: e.getSpanP99Ms.fault,
    directGetP99BaselineMs: e.directGetP99Ms.baseline,
    directGetP99FaultMs: e.directGetP99Ms.fault,
  };
}

export function judgeRedisLatency(v: JudgeInput<RedisRequired, RedisOptional>): Verdict {
  const r = ratio(v.getP99FaultS, v.getP99BaselineS);
  const ms = (s: number) => `${(s * 1000).toFixed(2)} ms`;
  const scans = v.slowlogScans ?? null;
  const reasons = [
    `p99 Redis GET: ${ms(v.getP99BaselineS)} baseline → ${ms(v.getP99FaultS)} with invalidations (${r === null ? '–' : `${r.toFixed(1)}×`}; ${Math.round(v.baselineGets)} and ${Math.round(v.faultGets)} GETs)`,
    `${Math.round(v.invalidations)} invalidations; SCAN in SLOWLOG: ${scans === null ? 'not read on this target' : scans}`,
  ];
  if (v.baselineGets < minGets || v.faultGets < minGets || v.invalidations < minInvalidations || r === null) {
    return {
      outcome: 'inconclusive',
      reasons: [...reasons, `needs ≥${minGets} GETs per phase and ≥${minInvalidations} invalidations`],
    };
  }
  // SLOWLOG is read where Redis is at hand (the lab); where it is, it must agree.
  if (r >= 5 && (scans === null || scans > 0)) return { outcome: 'incident', reasons };
  // Sub-millisecond p99s double with any noise on a shared 2-core machine: a rise smaller than a
  // fraction of one SCAN step's stall is no sign of the incident either.
  const risenS = v.getP99FaultS - v.getP99BaselineS;
  // recipe-api's histogram times a GET from its own event loop, which the fault phase's
  // invalidation requests keep busier on a starved machine (2.2-2.4x with the index SET at load
  // average 4 on 2 cores). A client outside recipe-api reads Redis itself: a SCAN stalls it for
  // everyone; when it stayed flat, recipe-api's rise is its own loop, not Redis.
  const direct = v.directGetP99BaselineMs ?? null;
  const directFault = v.directGetP99FaultMs ?? null;
  const redisFlat = direct !== null && directFault !== null && directFault - direct <= healthyRiseS * 1000;
  if (direct !== null && directFault !== null)
    reasons.push(
      `p99 of GETs straight to Redis: ${direct.toFixed(2)} ms → ${directFault.toFixed(2)} ms${redisFlat && r > 2 && risenS > healthyRiseS ? " (flat: recipe-api's rise is its own event loop)" : ''}`,
    );
  if ((r <= 2 || risenS <= healthyRiseS || redisFlat) && (scans === null || scans === 0))
    return { outcome: 'healthy', reasons };
  return {
    outcome: 'inconclusive',
    reasons: [
      ...reasons,
      `between the incident (≥5× with SCAN in SLOWLOG) and healthy (≤2× or ≤${healthyRiseS * 1000} ms higher, no SCAN)`,
    ],
  };
}

const setup = (strategy: 'scan' | 'index', describe: string): Setup => ({
  describe: [
    describe,
    `Redis slowlog-log-slower-than ${slowlogThresholdMicros} µs for the run (default 10000), restored afterwards`,
  ],
  appFaults: { 'recipe-api': { invalidationStrategy: strategy } },
  mesh: [],
  redisConfig: { 'slowlog-log-slower-than': String(slowlogThresholdMicros) },
});

async function seedViews(redisUrl: string): Promise<{ keys: number; drop: () => Promise<void> }> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const value = JSON.stringify({ seeded: true, note: 'a cached recipe view of the redis-scan-latency experiment' });
  try {
    for (let u = 0; u < seededUsers; u += 100) {
      const pipe = redis.pipeline();
      for (let user = u; user < Math.min(u + 100, seededUsers); user++) {
        const viewer = `${seedPrefix}${user}`;
        const keys: string[] = [];
        for (let recipe = 1; recipe <= viewsPerUser; recipe++) {
          const key = redisKeys.view(viewer, recipe);
          keys.push(key);
          pipe.set(key, value, 'EX', 600);
        }
        // The per-user index SET recipe-api keeps next to every view (view-cache.ts).
        pipe.sadd(redisKeys.viewIndex(viewer), ...keys);
        pipe.expire(redisKeys.viewIndex(viewer), 600);
      }
      await pipe.exec();
    }
  } finally {
    redis.disconnect();
  }
  return {
    keys: seededUsers * viewsPerUser,
    async drop() {
      const c = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
      try {
        for (let u = 0; u < seededUsers; u += 100) {
          const pipe = c.pipeline();
          for (let user = u; user < Math.min(u + 100, seededUsers); user++) {
            const viewer = `${seedPrefix}${user}`;
            const keys = Array.from({ length: viewsPerUser }, (_, i) => redisKeys.view(viewer, i + 1));
            pipe.unlink(...keys, redisKeys.viewIndex(viewer));
          }
          await pipe.exec();
        }
      } finally {
        c.disconnect();
      }
    },
  };
}

/** One invalidation: a seeded user's preferences replaced (recipe-api's PUT, or web-api's under /api). */
function invalidation(base: string, i: number) {
  return {
    url: `${base}/users/${seedPrefix}${i % seededUsers}/preferences`,
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ preferredServings: 2 }),
  };
}

/**
 * GET `key` straight to Redis every 1000/rate ms on a connection of its own until `until`
 * settles: the latencies (ms) a client outside recipe-api sees.
 */
async function directGets(url: string, key: string, until: Promise<unknown>): Promise<number[]> {
  return withRedis(url, async (r) => {
    let done = false;
    void until.finally(() => {
      done = true;
    });
    const latencies: number[] = [];
    const everyMs = 1000 / directProbeRate;
    for (let next = performance.now(); !done; next += everyMs) {
      const started = performance.now();
      await r.get(key);
      latencies.push(performance.now() - started);
      await pause(Math.max(0, next + everyMs - performance.now()));
    }
    return latencies;
  });
}

/** The lower of two readings, either of which may be missing. */
const lower = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));

async function withRedis<T>(url: string, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

export const redisScanLatency: Experiment<RedisLatencyEvidence, RedisRequired, RedisOptional> = {
  name: 'redis-scan-latency',
  title: 'Redis GET p99 climbs while per-user invalidation SCANs the keyspace',
  incident: { title: 'Debugging Redis Latency', source: 'the blog post of that title (docs/experiments.md)' },
  hypothesis:
    "With 200,000 cached views, invalidating one user with SCAN MATCH walks the whole keyspace in COUNT-sized steps on Redis' single thread. Each step is short, but GETs from the steady read load queue behind them: p99 of Redis GET rises at least 5× over its baseline, and the SCANs show in SLOWLOG once its threshold is low enough. With the per-user index SET, p99 stays within 2×.",
  incidentSetup: setup(
    'scan',
    'recipe-api invalidates with SCAN MATCH view:<user>:* (PUT /faults {"invalidationStrategy":"scan"})',
  ),
  fixes: [
    {
      name: 'index-set',
      summary:
        "Keep a per-user index SET of the user's view keys and invalidate with SMEMBERS + UNLINK: cost proportional to that user's views, not to the keyspace.",
      setup: setup(
        'index',
        'recipe-api invalidates through the per-user index SET (PUT /faults {"invalidationStrategy":"index"})',
      ),
      production: [
        {
          kind: 'code-pattern',
          title: 'Invalidate through a per-user index SET, never SCAN on the request path',
          snippet: [
            '// on cache fill (one MULTI):',
            "await redis.multi().set(viewKey, json, 'EX', ttl).sadd(`view-index:${user}`, viewKey).expire(`view-index:${user}`, ttl).exec();",
            '// on invalidation:',
            'const keys = await redis.smembers(`view-index:${user}`);',
            'await redis.unlink(`view-index:${user}`, ...keys); // UNLINK frees memory off the main thread',
          ].join('\n'),
          repoFile: 'services/recipe-api/src/data-access/invalidation.ts (IndexInvalidation) and view-cache.ts',
        },
      ],
    },
  ],
  load: {
    describe: `${(seededUsers * viewsPerUser).toLocaleString('en')} cached views seeded (${seededUsers} users × ${viewsPerUser}, with their index SETs; removed afterwards). Steady reads: ${readRate}/s evenly spaced GET /recipes/42 as ${readerId} straight to recipe-api (cache hits = Redis GETs). Baseline: reads only, before and again after the fault phase (the quieter p99 of the two). Under fault: the same reads plus ${invalidationRate}/s PUT /users/seed-N/preferences (up to ${invalidationLanes} at once; each one invalidates that user's views).`,
    defaultDurationS: 10,
  },
  signals: redisSignals,
  verdictRule: `incident when p99 of Redis GET under invalidations is ≥5× its baseline and SLOWLOG holds SCANs; healthy when it stays ≤2× (or rises ≤${healthyRiseS * 1000} ms, or GETs straight to Redis do) with no SCAN (each phase ≥${minGets} GETs, ≥${minInvalidations} invalidations)`,
  // SCAN's COUNT is a startup setting of recipe-api (default 10000, ~2–3 ms a step,
  // docs/architecture.md). On a loaded 2-core machine GET p99 is already ~3 ms, so 3 ms steps lift it
  // only ~3.5×; with 50000 a step blocks Redis ~12 ms and the rise is ≥5× even there (docs/experiments.md).
  labAppEnv: { SCAN_COUNT: String(scanCount) },
  k8s: {
    load: {
      describe: `Seeds ${(seededUsers * viewsPerUser).toLocaleString('en')} cached views in Redis (through a port-forward to its pod, removed at restore), then for --duration s ${readRate} GET /api/recipes/42?via=http per second with x-user-id and ${invalidationRate} PUT /api/users/<seeded user>/preferences per second through the ingress gateway (load/paced.ts, as the lab); the baseline is the window before, in Prometheus (offset)`,
      drive: async (ctx) => {
        const redisUrl = (await ctx.podUrl('redis', 'tcp-redis')).replace(/^http:/, 'redis:');
        ctx.log(`seeding ${(seededUsers * viewsPerUser).toLocaleString('en')} cached views…`);
        const seeded = await seedViews(redisUrl);
        ctx.onRestore(`remove the ${seeded.keys} seeded views`, seeded.drop);
        const read = () => ({ url: `${ctx.ingress}/api/recipes/42?via=http`, headers: { 'x-user-id': readerId } });
        await sendRequest({ ...read(), timeoutMs: 5000 });
        const [reads] = await Promise.all([
          pacedLoad({ request: read, ratePerSecond: readRate, lanes: 4, durationMs: ctx.durationS * 1000 }),
          pacedLoad({
            request: (i) => invalidation(`${ctx.ingress}/api`, i),
            ratePerSecond: invalidationRate,
            lanes: invalidationLanes,
            durationMs: ctx.durationS * 1000,
          }),
        ]);
        return reads;
      },
    },
    exact: {
      faultGets: redisGetsOfPods,
      invalidations: {
        from: 'metric',
        service: 'recipe-api',
        family: 'cache_invalidation_duration_seconds_count',
        describe: 'cache_invalidation_duration_seconds_count of every recipe-api pod, before → after the load',
      },
    },
  },
  async run(ctx) {
    const { target } = ctx;
    const redisUrl = target.urls.redis;
    if (!redisUrl) throw new Error('redis-scan-latency needs the lab with Redis (redis-server installed)');
    ctx.log(`seeding ${(seededUsers * viewsPerUser).toLocaleString('en')} cached views…`);
    const seeded = await seedViews(redisUrl);
    ctx.onRestore(`remove the ${seeded.keys} seeded views`, seeded.drop);

    // Paced, well below what recipe-api can serve: its event loop stays idle enough that a GET's
    // duration is Redis' answer time, not queueing in Node.
    const reads = (seconds: number) =>
      pacedLoad({
        request: () => ({ url: `${target.urls.recipeApi}/recipes/42`, headers: { 'x-user-id': readerId } }),
        ratePerSecond: readRate,
        lanes: 4,
        durationMs: seconds * 1000,
      });
    await reads(1); // fill the reader's view so that reads are cache hits

    // As long as the fault phase: p99 of a short phase is a handful of samples, and one stall of
    // the machine would set the baseline.
    const baselineSeconds = ctx.durationS;
    ctx.log(`baseline: reads only for ${baselineSeconds} s`);
    const probeKey = redisKeys.view(readerId, 42);
    const b0 = await target.scrape('recipe-api');
    const b0Ms = Date.now();
    const baselineReads = reads(baselineSeconds);
    const [baselineLoad, directBefore] = await Promise.all([
      baselineReads,
      directGets(redisUrl, probeKey, baselineReads),
    ]);
    const b1 = await target.scrape('recipe-api');
    const b1Ms = Date.now();

    await ctx.applySetup();
    await withRedis(redisUrl, (r) => r.slowlog('RESET'));
    ctx.log(`under fault: reads + back-to-back invalidations for ${ctx.durationS} s`);
    const f0 = await target.scrape('recipe-api');
    const f0Ms = Date.now();
    const faultReads = reads(ctx.durationS);
    const [faultLoad, , directFault] = (await Promise.all([
      faultReads,
      // The same invalidation rate for both strategies, so the fix is compared on equal terms.
      pacedLoad({
        request: (i) => invalidation(target.urls.recipeApi, i),
        ratePerSecond: invalidationRate,
        lanes: invalidationLanes,
        durationMs: ctx.durationS * 1000,
      }),
      directGets(redisUrl, probeKey, faultReads),
    ])) as [RequestRecord[], RequestRecord[], number[]];
    const f1 = await target.scrape('recipe-api');
    const f1Ms = Date.now();
    // A second quiet phase after the invalidations: the baseline is the quieter of the two, so
    // one stall of the shared machine during a baseline does not decide the verdict.
    ctx.log(`after: reads only for ${baselineSeconds} s`);
    const afterReads = reads(baselineSeconds);
    const [afterLoad, directAfter] = await Promise.all([afterReads, directGets(redisUrl, probeKey, afterReads)]);
    const a1 = await target.scrape('recipe-api');
    const a1Ms = Date.now();
    const slowlogRaw = (await withRedis(redisUrl, (r) => r.slowlog('GET', 1000))) as [
      number,
      number,
      number,
      string[],
    ][];

    const slowlog: Record<string, number> = {};
    for (const entry of slowlogRaw) {
      const command = String(entry[3]?.[0] ?? '?').toLowerCase();
      slowlog[command] = (slowlog[command] ?? 0) + 1;
    }
    // ioredis spans of recipe-api, exported within ~200 ms (OTEL_BSP_SCHEDULE_DELAY in the lab):
    // read until GET spans of the last phase's final second are in, 3 s at most.
    const getSpans = redisGetSpans;
    const spans =
      (await target.waitForTrace(
        (traces) => {
          const found = getSpans(traces);
          return found.some((s) => s.startMs >= a1Ms - 1000) ? found : null;
        },
        { sinceMs: b0Ms, timeoutMs: 3000 },
      )) ?? getSpans(await target.traces({ sinceMs: b0Ms }));
    const within = (from: number, to: number) =>
      spans.filter((s) => s.startMs >= from && s.startMs <= to).map((s) => s.durationMs);
    const spanBefore = within(b0Ms, b1Ms);
    const spanAfter = within(f1Ms, a1Ms);
    const spanFault = within(f0Ms, f1Ms);
    const before = redisGetP99(b0, b1);
    const afterwards = redisGetP99(f1, a1);
    const base = quieter(before, afterwards);
    const fault = redisGetP99(f0, f1);
    const spanBase =
      (percentile(spanBefore, 99) ?? Infinity) <= (percentile(spanAfter, 99) ?? Infinity) ? spanBefore : spanAfter;
    const invBuckets = histogramDelta(f0, f1, 'cache_invalidation_duration_seconds');
    return {
      keysSeeded: seeded.keys,
      baseline: phaseFromRecords('baseline', baselineLoad),
      after: phaseFromRecords('reads after', afterLoad),
      baselineP99sS: [before.p99, afterwards.p99],
      underFault: phaseFromRecords(ctx.fix ? 'with fix' : 'under fault', faultLoad),
      getP99: { baselineS: base.p99, faultS: fault.p99, baselineCount: base.count, faultCount: fault.count },
      directGetP99Ms: {
        baseline: lower(percentile(directBefore, 99), percentile(directAfter, 99)),
        fault: percentile(directFault, 99),
      },
      getSpanP99Ms: {
        baseline: percentile(spanBase, 99),
        fault: percentile(spanFault, 99),
        baselineCount: spanBase.length,
        faultCount: spanFault.length,
      },
      invalidations: histogramCount(invBuckets),
      invalidationP99S: histogramQuantile(0.99, invBuckets),
      strategy: ctx.setup.appFaults['recipe-api']?.invalidationStrategy ?? 'index',
      slowlog,
      slowlogSamples: slowlogRaw
        .slice(0, 5)
        .map((e) => ({ command: (e[3] ?? []).join(' ').slice(0, 80), micros: Number(e[2]) })),
      metricDeltas: [
        describeDelta('recipe-api', f0, f1, 'cache_lookups_total', { result: 'hit' }),
        describeDelta('recipe-api', f0, f1, 'cache_invalidation_duration_seconds_count'),
        {
          service: 'recipe-api',
          metric: 'redis_command_duration_seconds_count',
          labels: { command: 'scan' },
          before: null,
          after: null,
          delta: delta(f0, f1, 'redis_command_duration_seconds_count', { command: 'scan' }),
        },
      ],
    };
  },

  readSignals: readRedisSignals,
  judge: judgeRedisLatency,

  present(e) {
    const ms = (s: number | null) => (s === null ? null : s * 1000);
    return {
      load: [e.baseline, e.underFault, e.after],
      signals: [
        {
          name: 'p99 Redis GET, histogram (ms)',
          baseline: ms(e.getP99.baselineS),
          observed: ms(e.getP99.faultS),
          unit: 'ms',
        },
        {
          name: 'p99 Redis GET, ioredis spans (ms)',
          baseline: e.getSpanP99Ms.baseline,
          observed: e.getSpanP99Ms.fault,
          unit: 'ms',
        },
        {
          name: 'p99 Redis GET, straight to Redis (ms)',
          baseline: e.directGetP99Ms.baseline,
          observed: e.directGetP99Ms.fault,
          unit: 'ms',
        },
        { name: 'p99 invalidation (ms)', baseline: null, observed: ms(e.invalidationP99S), unit: 'ms' },
        { name: 'SCAN entries in SLOWLOG', baseline: null, observed: e.slowlog.scan ?? 0, unit: 'entries' },
      ],
      metricDeltas: e.metricDeltas,
      accessLog: [],
      accessLogCounts: {},
      trace: null,
      findings: [
        `keyspace: ${e.keysSeeded.toLocaleString('en')} seeded views; ${e.invalidations} invalidations with strategy ${e.strategy}`,
        ...e.slowlogSamples
          .filter((x) => /COUNT (\d+)/.test(x.command) && Number(/COUNT (\d+)/.exec(x.command)![1]) < scanCount)
          .slice(0, 1)
          .map(
            () =>
              `recipe-api runs SCAN with a COUNT below ${scanCount}: start the lab with SCAN_COUNT=${scanCount} (npm run experiment starts it so when the lab is down)`,
          ),
        ...e.slowlogSamples.map((s) => `SLOWLOG: ${s.command} — ${s.micros} µs`),
      ],
    };
  },
};
