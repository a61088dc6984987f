import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requireBinary } from '@recipe-mesh/measure/binaries';
import { waitFor } from '@recipe-mesh/measure/net';
import { listInstances, patchInstanceFaults, rollingRestart, setPreStopSleep } from '../src/instances.js';
import { stopLab } from '../src/lab.js';
import { countByStatusAndFlag, readAccessLog } from '@recipe-mesh/measure/access-log';
import { runLoad } from '@recipe-mesh/measure/load';
import { startLabOnFreePorts } from '../src/private-lab.js';
import { tempStateDir } from './helpers.js';

const envoy = requireBinary('envoy');

/**
 * The real recipe-api, two instances, rolled under load: its own shutdown sequence
 * (services/platform/src/shutdown.ts) with the lab's drain delay keeps every call whole; with
 * graceful shutdown off, web-api's sidecar sees 503s while the endpoint change propagates.
 * Counted at the caller's sidecar: web-api retries idempotent calls itself, which can hide them
 * from the client.
 */
test('the real recipe-api rolled under load: graceful shutdown loses nothing, abrupt exit fails calls at the caller', {
  skip: 'skip' in envoy ? envoy.skip : false,
  timeout: 300_000,
}, async (t) => {
  const stateDir = tempStateDir(t);
  t.after(() => stopLab({ stateDir, graceMs: 8000 }));
  const { state } = await startLabOnFreePorts({
    stateDir,
    use: { prometheus: false },
    replicas: { 'recipe-api': 2 },
  });
  const options = { stateDir };
  const callerLog = state.endpoints.accessLogs['web-api-sidecar']!;
  const callerCounts = async (sinceMs: number) =>
    countByStatusAndFlag(
      (await readAccessLog(callerLog, sinceMs)).filter((e) => e.upstreamCluster?.startsWith('outbound|4000|')),
    );
  /** Paced load through the ingress while the rollout runs; returns the caller's outcomes. */
  const rollUnderLoad = async () => {
    const since = Date.now();
    const rollout = rollingRestart(options, 'recipe-api');
    const loads: Awaited<ReturnType<typeof runLoad>>[] = [];
    let done = false;
    void rollout.finally(() => (done = true)).catch(() => undefined);
    // Loads of one second each until the rollout is over, so the load covers all of it.
    while (!done) {
      loads.push(
        await runLoad({
          baseUrl: state.endpoints.publicUrl,
          path: '/api/recipes/42',
          via: 'http',
          mode: { kind: 'rate', requestsPerSecond: 30, connections: 4 },
          durationMs: 1000,
        }),
      );
    }
    await rollout;
    // Lines reach the file within the flush interval; wait until the caller logged every request.
    const requests = loads.reduce((n, l) => n + l.summary.requests, 0);
    const counts = await waitFor(
      async () => {
        const c = await callerCounts(since);
        return Object.values(c).reduce((a, b) => a + b, 0) >= requests ? c : null;
      },
      { what: "web-api's sidecar to log every call" },
    );
    return { counts, requests };
  };

  await t.test('graceful shutdown on (drain longer than propagation): every call answered 200', async () => {
    const { counts, requests } = await rollUnderLoad();
    t.diagnostic(`${requests} requests; caller lines ${JSON.stringify(counts)}`);
    assert.ok(requests > 60, `${requests} requests`);
    assert.deepEqual(Object.keys(counts), ['200 -'], JSON.stringify(counts));
  });

  await t.test(
    'graceful shutdown and preStop off: 503s at the caller while the endpoint change propagates',
    async () => {
      // The Deployment's preStop sleep alone withdraws the endpoint before SIGTERM: the incident needs it gone.
      setPreStopSleep(options, 'recipe-api', 0);
      for (const instance of await listInstances(options, 'recipe-api')) {
        assert.equal(
          (await patchInstanceFaults(options, instance.name, { gracefulShutdown: false })).gracefulShutdown,
          false,
        );
      }
      const { counts, requests } = await rollUnderLoad();
      t.diagnostic(`${requests} requests; caller lines ${JSON.stringify(counts)}`);
      const failures = Object.entries(counts).filter(([k]) => !k.startsWith('200'));
      assert.ok(
        failures.some(([k]) => k.startsWith('503')),
        JSON.stringify(counts),
      );
    },
  );
});
