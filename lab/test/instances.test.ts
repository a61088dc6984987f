import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requireBinary } from '@recipe-mesh/measure/binaries';
import { waitFor } from '@recipe-mesh/measure/net';
import {
  killInstance,
  listInstances,
  patchInstanceFaults,
  setPreStopSleep,
  restartInstance,
  rollingRestart,
  setInstanceReady,
  stopInstance,
} from '../src/instances.js';
import { applyMeshConfig, currentMesh, stopLab } from '../src/lab.js';
import { countByStatusAndFlag, readAccessLog, type AccessLogEntry } from '@recipe-mesh/measure/access-log';
import { patchListener } from '../src/mesh/description.js';
import { startLabOnFreePorts } from '../src/private-lab.js';
import { standIn, tempStateDir } from './helpers.js';

const envoy = requireBinary('envoy');

interface Outcome {
  status: number;
  flags: string;
  upstreamPid: number | null;
}

/** One request through the ingress: web-api → its sidecar → recipe-api's sidecar → an instance. */
async function call(publicUrl: string): Promise<Outcome> {
  try {
    const res = await fetch(`${publicUrl}/api/recipes/42?via=http`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json().catch(() => ({}))) as { upstreamPid?: number };
    return {
      status: res.status,
      flags: res.headers.get('x-lab-response-flags') ?? '',
      upstreamPid: body.upstreamPid ?? null,
    };
  } catch (error) {
    return { status: 0, flags: String(error), upstreamPid: null };
  }
}

/** Requests every `intervalMs` (paced, a few in flight at once) until `until` settles. */
async function pacedLoad<T>(
  publicUrl: string,
  intervalMs: number,
  until: Promise<T>,
): Promise<{ outcomes: Outcome[]; result: T }> {
  const pending: Promise<Outcome>[] = [];
  let done = false;
  const finished = until.finally(() => {
    done = true;
  });
  while (!done) {
    pending.push(call(publicUrl));
    await Promise.race([new Promise((r) => setTimeout(r, intervalMs)), finished.catch(() => undefined)]);
  }
  return { result: await finished, outcomes: await Promise.all(pending) };
}

const failed = (outcomes: Outcome[]) => outcomes.filter((o) => o.status !== 200);
const describe = (outcomes: Outcome[]) => {
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[`${o.status} ${o.flags}`] = (counts[`${o.status} ${o.flags}`] ?? 0) + 1;
  return JSON.stringify(counts);
};

test('recipe-api with 2 instances: membership follows readiness, drills and rolling restarts', {
  skip: 'skip' in envoy ? envoy.skip : false,
  timeout: 240_000,
}, async (t) => {
  const stateDir = tempStateDir(t);
  t.after(() => stopLab({ stateDir, graceMs: 5000 }));
  const { state } = await startLabOnFreePorts({
    stateDir,
    apps: { webApi: standIn('web-api'), recipeApi: standIn('recipe-api') },
    use: { redis: false, prometheus: false },
    replicas: { 'recipe-api': 2 },
    // Drain longer than probe period + propagation delay: endpoints are gone before the app stops.
    membership: { probePeriodMs: 500, propagationDelayMs: 500 },
    appEnv: { SHUTDOWN_DRAIN_DELAY_MS: '2500' },
  });
  const options = { stateDir };
  const publicUrl = state.endpoints.publicUrl;
  const callerLog = state.endpoints.accessLogs['web-api-sidecar']!;
  const outboundSince = async (sinceMs: number): Promise<AccessLogEntry[]> =>
    (await readAccessLog(callerLog, sinceMs)).filter((e) => e.upstreamCluster?.startsWith('outbound|4000|'));
  const pidsOf = async () =>
    Object.fromEntries((await listInstances(options, 'recipe-api')).map((i) => [i.name, i.pid]));

  await t.test('requests through the mesh reach both instances', async () => {
    const instances = await listInstances(options, 'recipe-api');
    assert.deepEqual(
      instances.map((i) => [i.name, i.running, i.ready, i.inEndpoints]),
      [
        ['recipe-api', true, true, true],
        ['recipe-api-2', true, true, true],
      ],
    );
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => call(publicUrl)));
    assert.deepEqual(failed(outcomes), []);
    assert.deepEqual(
      new Set(outcomes.map((o) => o.upstreamPid)),
      new Set(instances.map((i) => i.pid)),
      'both pids answered',
    );
  });

  await t.test('an unready instance gets no traffic while the other serves every request', async () => {
    const pids = await pidsOf();
    await setInstanceReady(options, 'recipe-api-2', false);
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => call(publicUrl)));
    assert.deepEqual(failed(outcomes), []);
    assert.deepEqual(new Set(outcomes.map((o) => o.upstreamPid)), new Set([pids['recipe-api']]));
    await setInstanceReady(options, 'recipe-api-2', true);
  });

  await t.test("every instance unready: the caller's sidecar answers 503 UH", async () => {
    const since = Date.now() - 1000;
    await setInstanceReady(options, 'recipe-api', false);
    await setInstanceReady(options, 'recipe-api-2', false);
    const outcome = await call(publicUrl);
    assert.equal(outcome.status, 502, 'the stand-in web-api answers 502 when recipe-api fails');
    const uh = await waitFor(async () => (await outboundSince(since)).find((e) => e.responseFlags.includes('UH')), {
      what: "a UH line in web-api's sidecar access log",
    });
    assert.equal(uh.responseCode, 503, uh.raw);
    await setInstanceReady(options, 'recipe-api', true);
    await setInstanceReady(options, 'recipe-api-2', true);
    assert.equal((await call(publicUrl)).status, 200);
  });

  await t.test("a mesh change reaches every instance's inbound cluster and keeps the caller's endpoints", async () => {
    const base = currentMesh(options);
    const idle = patchListener(base, 'recipe-api-sidecar', 'inbound-http', { upstream: { idleTimeoutMs: 4000 } });
    // A caller cluster change replaces the EDS cluster: it must read its endpoints again.
    const changed = patchListener(idle, 'web-api-sidecar', 'outbound-recipe-api-http', {
      upstream: { idleTimeoutMs: 7000 },
    });
    const applied = await applyMeshConfig(changed, options);
    assert.deepEqual(applied.changed['recipe-api-sidecar'], ['cds']);
    const dump = await (
      await fetch(
        `${state.endpoints.envoyAdminUrls['recipe-api-sidecar']}/config_dump?resource=dynamic_active_clusters`,
      )
    ).text();
    assert.equal(dump.match(/"idle_timeout": "4s"/g)?.length, 2, 'both instances’ inbound|4000|| clusters');
    const pids = await pidsOf();
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => call(publicUrl)));
    assert.deepEqual(failed(outcomes), []);
    assert.deepEqual(new Set(outcomes.map((o) => o.upstreamPid)), new Set(Object.values(pids)));
    await applyMeshConfig(base, options);
  });

  await t.test('kill, restart, stop, restart: each waits for the process and for Envoy', async () => {
    const before = await pidsOf();
    const killed = await killInstance(options, 'recipe-api-2');
    assert.equal(killed.pid, before['recipe-api-2']);
    let listed = await listInstances(options, 'recipe-api');
    assert.deepEqual(
      listed.map((i) => [i.name, i.running, i.inEndpoints]),
      [
        ['recipe-api', true, true],
        ['recipe-api-2', false, false],
      ],
    );
    const restarted = await restartInstance(options, 'recipe-api-2');
    assert.notEqual(restarted.pid, before['recipe-api-2']);
    const stopped = await stopInstance(options, 'recipe-api-2');
    assert.ok(stopped.exitedAfterMs >= 2000, `a graceful stop drains first (exited after ${stopped.exitedAfterMs} ms)`);
    listed = await listInstances(options, 'recipe-api');
    assert.deepEqual(
      listed.map((i) => [i.name, i.running, i.terminating, i.inEndpoints]),
      [
        ['recipe-api', true, false, true],
        ['recipe-api-2', false, true, false],
      ],
    );
    await restartInstance(options, 'recipe-api-2');
    assert.deepEqual(
      (await listInstances(options, 'recipe-api')).map((i) => i.inEndpoints),
      [true, true],
    );
  });

  await t.test('rolling restart under paced load, graceful shutdown on: no failed request', async () => {
    const since = Date.now();
    const { outcomes, result } = await pacedLoad(publicUrl, 40, rollingRestart(options, 'recipe-api'));
    assert.deepEqual(
      result.map((s) => s.stopped),
      ['recipe-api', 'recipe-api-2'],
    );
    assert.deepEqual(
      (await listInstances(options, 'recipe-api')).map((i) => [i.name, i.inEndpoints]),
      [
        ['recipe-api-3', true],
        ['recipe-api-4', true],
      ],
    );
    assert.ok(outcomes.length > 50, `${outcomes.length} requests`);
    assert.deepEqual(failed(outcomes), [], describe(outcomes));
    const caller = await outboundSince(since);
    assert.deepEqual(
      Object.keys(countByStatusAndFlag(caller)),
      ['200 -'],
      JSON.stringify(countByStatusAndFlag(caller)),
    );
  });

  await t.test(
    'rolling restart under paced load, graceful shutdown and preStop off: failures at the caller',
    async () => {
      // The Deployment's preStop sleep alone lets the endpoint go before SIGTERM: without it an abrupt exit loses requests.
      const preStop = setPreStopSleep(options, 'recipe-api', 0);
      try {
        for (const instance of await listInstances(options, 'recipe-api')) {
          assert.equal(
            (await patchInstanceFaults(options, instance.name, { gracefulShutdown: false })).gracefulShutdown,
            false,
          );
        }
        const since = Date.now();
        const { outcomes } = await pacedLoad(publicUrl, 40, rollingRestart(options, 'recipe-api'));
        assert.ok(failed(outcomes).length > 0, `expected failures: ${describe(outcomes)}`);
        const caller = await waitFor(
          async () => {
            const lines = await outboundSince(since);
            return lines.some((e) => e.responseCode >= 500) ? lines : null;
          },
          { what: "5xx lines in web-api's sidecar access log" },
        );
        const counts = countByStatusAndFlag(caller);
        // The stopped instance's own inbound hop says why: its app was gone (UF, URX) or went away mid-request (UC).
        const inbound = (await readAccessLog(state.endpoints.accessLogs['recipe-api-sidecar']!, since)).filter(
          (e) => e.responseCode >= 500,
        );
        t.diagnostic(
          `caller outbound lines by status and flag: ${JSON.stringify(counts)}; recipe-api sidecar 5xx: ${JSON.stringify(countByStatusAndFlag(inbound))}; load: ${describe(outcomes)}`,
        );
        assert.ok(
          Object.keys(counts).some((k) => k.startsWith('503')),
          JSON.stringify(counts),
        );
      } finally {
        setPreStopSleep(options, 'recipe-api', preStop);
      }
    },
  );
});
