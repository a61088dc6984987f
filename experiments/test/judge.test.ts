import assert from 'node:assert/strict';
import { test } from 'node:test';
import { catalogue } from '../src/catalogue.js';
import type { Outcome, SignalValues } from '../src/definition.js';
import { decide, signalEntries } from '../src/verdict.js';

/**
 * Every experiment's one judge, on signal values alone, as either target hands them over (the
 * lab's readers in verdicts.test.ts, Prometheus here: fractional counts from increase(), optional
 * signals absent). Each experiment needs a recorded case per outcome, and each required signal
 * without data must make the run inconclusive by name: a new experiment without cases fails here.
 */

const mib = 1024 * 1024;
const recorded: Record<string, Record<Outcome, SignalValues>> = {
  '503-uc': {
    incident: { ucResets: 2.9, inboundRequests: 412, inbound5xx: 2.9, callerNon2xx: 0 },
    healthy: { ucResets: 0, inboundRequests: 398, inbound5xx: 0, callerNon2xx: 0, sidecarOnlyTrace: 0 },
    inconclusive: { ucResets: 0, inboundRequests: 40, inbound5xx: 0, callerNon2xx: 0 },
  },
  'redis-scan-latency': {
    incident: { getP99BaselineS: 0.004, getP99FaultS: 0.048, baselineGets: 1190, faultGets: 1180, invalidations: 190 },
    healthy: {
      getP99BaselineS: 0.004,
      getP99FaultS: 0.005,
      baselineGets: 1190,
      faultGets: 1180,
      invalidations: 190,
      slowlogScans: 0,
    },
    inconclusive: {
      getP99BaselineS: 0.004,
      getP99FaultS: 0.012,
      baselineGets: 1190,
      faultGets: 1180,
      invalidations: 190,
    },
  },
  'client-abort-leak': {
    incident: { abortedDownloads: 16, webApiFdsAtEnd: 14, recipeApiFdsFirst: 10, recipeApiFdsAtEnd: 1 },
    healthy: { abortedDownloads: 16, webApiFdsAtEnd: 0, recipeApiFdsFirst: 1, recipeApiFdsAtEnd: 0 },
    inconclusive: { abortedDownloads: 3, webApiFdsAtEnd: 3, recipeApiFdsFirst: 3, recipeApiFdsAtEnd: 0 },
  },
  // 4 × 10 MiB (sized to the memory limit): lab runs of 2026-12-07 grew 29.7–41.5 MiB, with the fix 3.5–4.5.
  'upload-oom': {
    incident: { externalGrowthBytes: 41.5 * mib, oversizedAccepted: 4, oversizedRejected: 0 },
    healthy: { externalGrowthBytes: 4.5 * mib, oversizedAccepted: 0, oversizedRejected: 4, smallUploadsFailed: 0 },
    inconclusive: { externalGrowthBytes: 4.5 * mib, oversizedAccepted: 0, oversizedRejected: 4, smallUploadsFailed: 1 },
  },
  'circuit-breaker': {
    incident: { uoOverflows: 311, outboundRequests: 980, callerNon2xx: 140, pendingOverflow: 311 },
    healthy: { uoOverflows: 0, outboundRequests: 1020, callerNon2xx: 0, peakActive: 8 },
    inconclusive: { uoOverflows: 0, outboundRequests: 1020, callerNon2xx: 3 },
  },
  'no-healthy-upstream': {
    incident: {
      uhResponses: 95,
      outboundRequests: 410,
      callerNon2xx: 90,
      webApiIdleCloses: 0,
      webApiUnreadyReadings: 0,
    },
    healthy: { uhResponses: 0, outboundRequests: 420, callerNon2xx: 1, webApiIdleCloses: 1, endpointBackAfterMs: null },
    inconclusive: { uhResponses: 0, outboundRequests: 420, callerNon2xx: 12, webApiIdleCloses: 1 },
  },
  'rollout-503': {
    incident: { outbound5xx: 7, outboundRequests: 900, callerFailures: 2, webApiIdleCloses: 0 },
    healthy: { outbound5xx: 0, outboundRequests: 880, callerFailures: 1, webApiIdleCloses: 1 },
    inconclusive: { outbound5xx: 0, outboundRequests: 30, callerFailures: 0, webApiIdleCloses: 0 },
  },
  // Lab runs of 3 s (experiments.lab.test.ts); on Prometheus the counters read fractional.
  'post-retry-duplicates': {
    incident: { postsSent: 61, recipesCreated: 82, resets: 22, requestsWithDuplicates: 17, meshRetries: 21 },
    healthy: { postsSent: 61, recipesCreated: 61, resets: 22, requestsWithDuplicates: 0, meshRetries: 22 },
    inconclusive: { postsSent: 61.4, recipesCreated: 61.9, resets: 1.2 },
  },
  // Lab runs of 6 s per phase: with the work on the loop, then in the worker pool.
  'event-loop-block': {
    incident: {
      lagP99BaselineS: 0.0116,
      lagP99S: 0.0606,
      eluBaseline: 0.11,
      elu: 0.35,
      getP99BaselineS: 0.004,
      getP99S: 0.0951,
      gets: 338,
      callerP99BaselineMs: 16.1,
      callerP99Ms: 141.7,
      redisUsecPerGet: 3.3,
    },
    healthy: {
      lagP99BaselineS: 0.0137,
      lagP99S: 0.0122,
      eluBaseline: 0.14,
      elu: 0.14,
      getP99BaselineS: 0.0046,
      getP99S: 0.0047,
      gets: 356,
      callerP99BaselineMs: 27.8,
      callerP99Ms: 96.3,
      redisUsecPerGet: 2.8,
    },
    // The first tuning run (30 ms on 20 % of requests, a busy machine): lag rose, GET p99 not enough.
    inconclusive: {
      lagP99BaselineS: 0.0173,
      lagP99S: 0.0437,
      eluBaseline: 0.258,
      elu: 0.454,
      getP99BaselineS: 0.0206,
      getP99S: 0.0364,
      gets: 349,
      callerP99BaselineMs: 89.1,
      callerP99Ms: 134.1,
    },
  },
  // Lab runs (docs/experiments.md, timeout-budget): 16 calls at p99 ~2020 ms with 32 tries, and
  // with the fix 39–40 calls at p99 ~960 ms with one try each; Prometheus adds fractions.
  'timeout-budget': {
    incident: { callerP99Ms: 2022, callerRequests: 16, caller504s: 15.6, recipeApiTries: 32, sidecarRetries: 16 },
    healthy: { callerP99Ms: 962, callerRequests: 39, caller504s: 39, recipeApiTries: 39, perTryTimeouts: 0 },
    // Within the budget at the caller, yet recipe-api was asked again after the caller gave up.
    inconclusive: { callerP99Ms: 990, callerRequests: 39, caller504s: 39, recipeApiTries: 70 },
  },
};

for (const experiment of catalogue) {
  test(`${experiment.name}: one judge says incident, healthy and inconclusive on recorded values`, () => {
    const cases = recorded[experiment.name];
    assert.ok(cases, `no recorded signal values for ${experiment.name}: add them to judge.test.ts`);
    for (const outcome of ['incident', 'healthy', 'inconclusive'] as const) {
      const verdict = decide(experiment, cases[outcome]);
      assert.equal(verdict.outcome, outcome, `${outcome}: ${verdict.reasons.join('; ')}`);
      assert.ok(verdict.reasons.length > 0, 'a verdict says why');
    }
  });

  test(`${experiment.name}: a required signal without data makes the run inconclusive, naming it`, () => {
    const healthy = recorded[experiment.name]!.healthy;
    for (const { key, signal, required } of signalEntries(experiment)) {
      if (!required) continue;
      for (const missing of [null, undefined, Number.NaN]) {
        const values = { ...healthy, [key]: missing };
        assert.deepEqual(decide(experiment, values), {
          outcome: 'inconclusive',
          reasons: [`no data for ${signal.title}`],
        });
      }
    }
  });

  test(`${experiment.name}: every required signal is read on both targets, in the manifests' namespace`, () => {
    for (const { key, signal, required } of signalEntries(experiment)) {
      if (!signal.promql) {
        assert.ok(!required, `${key} is required but has no PromQL: --target k8s could never judge`);
        continue;
      }
      assert.match(signal.promql, /\$namespace/, `${key}: PromQL must select the run's namespace`);
      assert.match(signal.promql, /\$window/, `${key}: PromQL must cover the run's window`);
    }
  });
}
