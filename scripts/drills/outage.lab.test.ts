import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runLoad } from '@recipe-mesh/measure/load';
import { restartLabProcess, signalLabProcess, labProcess } from '@recipe-mesh/lab/process-control';
import { isRunning } from '@recipe-mesh/lab/process/processes';
import { readState } from '@recipe-mesh/lab/process/state';
import { readPodBehaviours } from '@recipe-mesh/lab/workloads/manifests';
import { requireBinary } from '@recipe-mesh/measure/binaries';
import { formatMs } from '@recipe-mesh/measure/latency';
import { pause, pollUntil, waitFor } from '@recipe-mesh/measure/net';
import { startPrivateLab } from '@recipe-mesh/lab/private-lab';
import { recipeApiConfigSchema } from '../../services/recipe-api/src/config.js';
import { webApiConfigSchema } from '../../services/web-api/src/config.js';
import { metric } from './drill-support.js';
import { formatCounts } from '@recipe-mesh/measure/outcomes';
import { countByStatus, startedWithin } from '@recipe-mesh/measure/requests';

/**
 * Outage drills (docs/reliability.md): each failure users meet, under a paced load through the
 * ingress of a private lab, with the numbers printed. The resilience triad of README: a lost cache
 * still answers, a lost connection reconnects, an upstream failure is an answer, not a crash.
 */
const needed = ['envoy', 'redis-server'].map((name) => requireBinary(name));
const missing = needed.flatMap((r) => ('skip' in r ? [r.skip] : []));

const { REDIS_COMMAND_TIMEOUT_MS } = recipeApiConfigSchema.parse({});
const { UPSTREAM_TIMEOUT_MS } = webApiConfigSchema.parse({});
const rate = 20;
/** A per-user view: cached in Redis, so cache hits and degraded answers both show. */
const path = '/api/recipes/42';
const headers = { 'x-user-id': 'drill-user' };

describe('outage drills in the lab', { skip: missing.length ? missing.join('; ') : false }, () => {
  let lab: Awaited<ReturnType<typeof startPrivateLab>>;
  let recipeAdmin: string;
  let webAdmin: string;
  let publicUrl: string;
  const report = (line: string) => console.log(`drill ${line}`);
  const load = (durationMs: number) =>
    runLoad({
      baseUrl: publicUrl,
      path,
      headers,
      mode: { kind: 'rate', requestsPerSecond: rate, connections: 4 },
      durationMs,
    });
  const hits = () => metric(recipeAdmin, 'cache_lookups_total', { result: 'hit' });
  // Each pause below is a length of traffic or of an outage (the drill's parameter), not a wait for a condition.

  before(async () => {
    lab = await startPrivateLab();
    recipeAdmin = lab.state.endpoints.recipeApiAdminUrl;
    webAdmin = lab.state.endpoints.webApiAdminUrl;
    publicUrl = lab.state.endpoints.publicUrl;
    // Warm the cache so hits are flowing before the first drill.
    const before = await hits();
    await waitFor(async () => (await fetch(`${publicUrl}${path}`, { headers })).ok && (await hits()) > before, {
      timeoutMs: 10_000,
      what: 'a cache hit',
    });
  });
  after(() => lab?.stop());

  test('Redis SIGKILLed and restarted: no 5xx, answers degrade, cache hits resume within 5 s', async () => {
    const degradedBefore = await metric(recipeAdmin, 'degraded_responses_total');
    const loadDone = load(9_000);
    await pause(1_500);
    const killedAt = Date.now();
    signalLabProcess(lab.options, 'redis', 'SIGKILL');
    await waitFor(async () => !isRunning(labProcess(lab.options, 'redis')), {
      timeoutMs: 5_000,
      what: 'redis to exit',
    });
    await waitFor(async () => (await metric(recipeAdmin, 'redis_connection_up')) === 0, {
      timeoutMs: 5_000,
      what: 'redis_connection_up 0',
    });
    await pause(2_000);
    await restartLabProcess(lab.options, 'redis');
    const backAt = Date.now();
    const hitsAtBack = await hits();
    const resumed = await pollUntil(async () => (await hits()) > hitsAtBack, { timeoutMs: 10_000 });
    const resumeMs = resumed.elapsedMs;
    const { records, summary } = await loadDone;
    const degraded = (await metric(recipeAdmin, 'degraded_responses_total')) - degradedBefore;
    report(
      `redis SIGKILL: down ${backAt - killedAt} ms; client ${formatCounts(countByStatus(records))}; degraded_responses +${degraded}; ` +
        `cache hits resumed ${resumeMs} ms after redis was back; p99 ${formatMs(summary.latencyMs.p99, 0)} ms`,
    );
    assert.deepEqual(Object.keys(countByStatus(records)), ['200'], 'every request answered 200 through the outage');
    assert.ok(degraded > 0, 'degraded_responses_total rose');
    assert.ok(resumed.value && resumeMs < 5_000, `cache hits resumed after ${resumeMs} ms`);
  });

  test(`Redis stalled (SIGSTOP) longer than REDIS_COMMAND_TIMEOUT_MS (${REDIS_COMMAND_TIMEOUT_MS} ms): requests degrade at the timeout`, async () => {
    const degradedBefore = await metric(recipeAdmin, 'degraded_responses_total');
    const loadDone = load(8_000);
    await pause(1_500);
    const stall = { from: Date.now(), to: 0 };
    signalLabProcess(lab.options, 'redis', 'SIGSTOP');
    try {
      await pause(REDIS_COMMAND_TIMEOUT_MS * 6);
    } finally {
      signalLabProcess(lab.options, 'redis', 'SIGCONT');
    }
    stall.to = Date.now();
    const hitsAtBack = await hits();
    const resumed = await pollUntil(async () => (await hits()) > hitsAtBack, { timeoutMs: 10_000 });
    const resumeMs = resumed.elapsedMs;
    const { records } = await loadDone;
    const degraded = (await metric(recipeAdmin, 'degraded_responses_total')) - degradedBefore;
    const worst = Math.max(0, ...startedWithin(records, stall).map((r) => r.latencyMs));
    report(
      `redis SIGSTOP ${stall.to - stall.from} ms: client ${formatCounts(countByStatus(records))}; during the stall max ${worst.toFixed(0)} ms ` +
        `(command timeout ${REDIS_COMMAND_TIMEOUT_MS} ms); degraded_responses +${degraded}; hits resumed ${resumeMs} ms after SIGCONT`,
    );
    assert.deepEqual(Object.keys(countByStatus(records)), ['200']);
    assert.ok(degraded > 0, 'degraded_responses_total rose');
    // Degrading at the timeout: one command timeout plus the store read and the mesh, far from hanging.
    assert.ok(worst < REDIS_COMMAND_TIMEOUT_MS + 1_000, `slowest answer during the stall took ${worst} ms`);
    assert.ok(resumed.value && resumeMs < 5_000, `cache hits resumed after ${resumeMs} ms`);
  });

  test('recipe-api SIGKILLed and restarted: web-api answers 503/504 JSON in its deadline, stays ready, recovers within a probe period', async () => {
    // Every instance (the manifests run two): with one left, the mesh routes around the dead one.
    const instances = readState(lab.options.stateDir)!
      .processes.filter((p) => p.kind === 'app' && /^recipe-api(-\d+)?$/.test(p.name))
      .map((p) => p.name);
    assert.ok(instances.length >= 1, 'recipe-api instances');
    const loadDone = load(12_000);
    await pause(1_500);
    for (const name of instances) signalLabProcess(lab.options, name, 'SIGKILL');
    await waitFor(async () => instances.every((name) => !isRunning(labProcess(lab.options, name))), {
      timeoutMs: 5_000,
      what: 'every recipe-api instance to exit',
    });
    const down = { from: Date.now(), to: 0 };
    const started = Date.now();
    const answer = await fetch(`${publicUrl}${path}`, { headers });
    const answeredMs = Date.now() - started;
    const body = (await answer.json()) as { error?: { code?: string } };
    const webReady = (await fetch(`${webAdmin}/readyz`)).status;
    for (const name of instances) await restartLabProcess(lab.options, name);
    down.to = Date.now();
    const recovered = await pollUntil(async () => (await fetch(`${publicUrl}${path}`, { headers })).status === 200, {
      timeoutMs: 20_000,
    });
    const recoverMs = recovered.elapsedMs;
    const { records } = await loadDone;
    const counts = countByStatus(records);
    report(
      `recipe-api SIGKILL: down ${down.to - down.from} ms; probe ${answer.status} ${body.error?.code} in ${answeredMs} ms ` +
        `(deadline ${UPSTREAM_TIMEOUT_MS} ms); web-api /readyz ${webReady}; 200 again ${recoverMs} ms after ready; client ${formatCounts(counts)}`,
    );
    assert.ok([503, 504].includes(answer.status), `status ${answer.status}`);
    assert.match(answer.headers.get('content-type') ?? '', /application\/json/);
    assert.ok(body.error?.code, 'a coded JSON error');
    assert.ok(answeredMs < UPSTREAM_TIMEOUT_MS + 1_000, `answered in ${answeredMs} ms`);
    assert.equal(webReady, 200, 'web-api stays ready while recipe-api is down');
    // A restarted instance rejoins the endpoints at its next readiness probe, as on Kubernetes.
    const readiness = readPodBehaviours(lab.options.root).services['recipe-api'].readiness;
    const rejoinMs = (readiness?.periodMs ?? 0) + 1_000;
    assert.ok(recovered.value && recoverMs < rejoinMs, `served again ${recoverMs} ms after recipe-api was ready`);
    for (const status of Object.keys(counts)) assert.ok(['200', '503', '504'].includes(status), `unexpected ${status}`);
  });

  test('the recipe-api sidecar Envoy restarted: errors bounded and counted, full recovery', async () => {
    const loadDone = load(10_000);
    await pause(1_500);
    const killedAt = Date.now();
    signalLabProcess(lab.options, 'recipe-api-sidecar', 'SIGKILL');
    await waitFor(async () => !isRunning(labProcess(lab.options, 'recipe-api-sidecar')), {
      timeoutMs: 5_000,
      what: 'the sidecar to exit',
    });
    await restartLabProcess(lab.options, 'recipe-api-sidecar');
    const backAt = Date.now();
    const recovered = await pollUntil(async () => (await fetch(`${publicUrl}${path}`, { headers })).status === 200, {
      timeoutMs: 10_000,
    });
    const recoverMs = recovered.elapsedMs;
    const { records } = await loadDone;
    const counts = countByStatus(records);
    const errors = records.filter((r) => r.status !== 200).length;
    const tail = countByStatus(
      startedWithin(records, { from: backAt + recoverMs + 500, to: Number.POSITIVE_INFINITY }),
    );
    report(
      `recipe-api sidecar SIGKILL + restart: down ${backAt - killedAt} ms; client ${formatCounts(counts)}; ` +
        `errors ${errors} (bound: the requests of the downtime plus 1 s); 200 again ${recoverMs} ms after restart; after: ${formatCounts(tail)}`,
    );
    for (const status of Object.keys(counts)) assert.ok(['200', '503', '504'].includes(status), `unexpected ${status}`);
    assert.ok(errors <= Math.ceil(((backAt - killedAt + recoverMs + 1_000) / 1000) * rate), `${errors} errors`);
    assert.ok(recovered.value, `no 200 within 10 s of the restart`);
    assert.deepEqual(Object.keys(tail), ['200'], 'full recovery after the restart');
  });
});
