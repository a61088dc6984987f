import { open, stat } from 'node:fs/promises';
import { Redis } from 'ioredis';
import type { FaultDocument } from '@recipe-mesh/platform/faults';
import { getFaults, putFaults } from '@recipe-mesh/measure/admin-client';
import {
  applyMeshConfig,
  currentMesh,
  labStatus,
  startLab,
  stopLab,
  type LabOptions,
  type LabState,
} from '@recipe-mesh/lab/lab';
import { patchListener } from '@recipe-mesh/lab/mesh/description';
import { readSpans } from '@recipe-mesh/lab/trace/store';
import { parseAccessLog, type AccessLogEntry } from '@recipe-mesh/measure/access-log';
import { parseScrape, type Sample, type Scrape } from '@recipe-mesh/measure/metric-text';
import { labPaths } from '@recipe-mesh/lab/paths';
import { isRunning } from '@recipe-mesh/lab/process/processes';
import { readState } from '@recipe-mesh/lab/process/state';
import type { TraceSpan } from '../evidence/trace.js';
import { groupTraces } from '../evidence/trace.js';
import type { AccessLogMark, InstanceHandle, LabTarget, ServiceName, Setup } from '../definition.js';
import {
  deleteInstance,
  listInstances,
  setPreStopSleep,
  startInstance,
  type InstanceStatus,
} from '@recipe-mesh/lab/instances';
import { kubernetesDefaults, type PodBehaviour } from '@recipe-mesh/lab/workloads/manifests';
import type { RestoreStack } from '../restore.js';
import type { StateSnapshot } from '../leftovers.js';
import { translateComponent } from '../mesh/components.js';
import { pause, pollUntil, waitFor } from '@recipe-mesh/measure/net';

/**
 * The lab as experiments see it: URLs, scrapes of the admin ports, access logs and traces from
 * `.lab/`, and setups applied through the same doors a person uses (the admin `PUT /faults`, the
 * lab's mesh API, Redis CONFIG SET), each with its undo pushed onto the run's RestoreStack.
 */

export interface LabConnection {
  target: LabTarget;
  state: LabState;
  /** Applies a setup; every change registers its undo on `restore`. */
  apply(setup: Setup, restore: RestoreStack): Promise<void>;
  /** True when this run started the lab (the runner stops it again unless told to keep it). */
  startedHere: boolean;
  /** What the leftover check compares: app faults, the mesh description, these Redis settings. */
  snapshot(redisConfigKeys: string[]): Promise<StateSnapshot>;
  /** Runs at least this many instances of each service for the run (removed again on restore). */
  scale(wanted: Partial<Record<ServiceName, number>>, restore: RestoreStack): Promise<void>;
  /**
   * For the report: what `apply` changed and on which instances, by name, and every way this lab
   * departs from the manifests (fewer replicas, a faster probe, manifests not rendered).
   */
  applied: string[];
  departures: string[];
}

function redisUrlOf(state: LabState): string | null {
  const redis = state.processes.find((p) => p.kind === 'redis');
  return redis ? `redis://127.0.0.1:${state.ports.redis}` : null;
}

/** Opens the lab described by `options`, starting it when it is not up (and `start` allows). */
export async function connectLab(options: LabOptions & { start: boolean }): Promise<LabConnection> {
  const log = options.log ?? (() => {});
  let status = await labStatus(options);
  let startedHere = false;
  if (!status.up || status.state?.phase !== 'up') {
    if (!options.start) throw new Error('the lab is not up: run `make up` (or `npm run lab -- up`) first');
    log('the lab is not up: starting it (npm run lab -- up)…');
    await startLab(options);
    startedHere = true;
    status = await labStatus(options);
  }
  const state = status.state!;
  if (state.mode !== 'mesh') {
    if (startedHere) await stopLab(options);
    throw new Error(
      `the lab runs in ${state.mode} mode (no Envoy): experiments need the mesh; ${state.missing.join('; ')}`,
    );
  }
  const e = state.endpoints;
  const url = (port: number) => `http://127.0.0.1:${port}`;
  const accessLogs = e.accessLogs;

  const target: LabTarget = {
    urls: {
      ingress: e.publicUrl,
      webApi: url(state.ports.webApi),
      recipeApi: url(state.ports.recipeApi),
      recipeApiSidecar: url(state.ports.recipeApiSidecarInboundHttp),
      admin: { 'web-api': e.webApiAdminUrl, 'recipe-api': e.recipeApiAdminUrl },
      redis: redisUrlOf(state),
    },
    responseFlagsHeader: currentMesh(options).responseFlagsHeader,
    /**
     * Every running instance's admin /metrics, each sample labelled `pod` with the instance's
     * name (as Prometheus labels a pod's series on Kubernetes): sums cover the whole Deployment,
     * and a `{ pod }` matcher reads one instance.
     */
    async scrape(service: ServiceName): Promise<Scrape> {
      const current = readState(labPaths(options).stateDir) ?? state;
      const pods = current.processes.filter((p) => p.instance?.service === service && isRunning(p));
      const scrapes = await Promise.all(
        pods.map(async (pod) => {
          const url = `http://127.0.0.1:${pod.instance!.appPorts.admin}/metrics`;
          const res = await fetch(url, {
            headers: { accept: 'application/openmetrics-text; version=1.0.0, text/plain;q=0.5' },
            signal: AbortSignal.timeout(5000),
          }).catch(() => null);
          // An instance stopping right now may refuse; the first one (the lab's ports) must answer.
          if (!res?.ok) {
            if (pod.name === service) throw new Error(`scrape ${pod.name}: ${res?.status ?? 'no answer'}`);
            return null;
          }
          return { pod: pod.name, scrape: parseScrape(await res.text()) };
        }),
      );
      return mergeScrapes(scrapes.filter((s) => s !== null));
    },
    async accessLogMark(): Promise<AccessLogMark> {
      const mark: AccessLogMark = {};
      for (const [proxy, file] of Object.entries(accessLogs))
        mark[proxy] = await stat(file).then(
          (s) => s.size,
          () => 0,
        );
      return mark;
    },
    async accessLogSince(mark: AccessLogMark): Promise<Record<string, AccessLogEntry[]>> {
      const out: Record<string, AccessLogEntry[]> = {};
      for (const [proxy, file] of Object.entries(accessLogs)) {
        out[proxy] = parseAccessLog(await readFrom(file, mark[proxy] ?? 0));
      }
      return out;
    },
    mesh: () => currentMesh(options),
    async envoyStats(proxy, filter) {
      const admin = e.envoyAdminUrls[proxy];
      if (!admin) throw new Error(`no Envoy admin URL for ${proxy}`);
      const res = await fetch(`${admin}/stats?format=json&filter=${encodeURIComponent(filter)}`, {
        signal: AbortSignal.timeout(5000),
      });
      const body = (await res.json()) as { stats?: { name: string; value?: number }[] };
      const out: Record<string, number> = {};
      for (const s of body.stats ?? []) if (typeof s.value === 'number') out[s.name] = s.value;
      return out;
    },
    accessLogWhen(mark, complete, { what, timeoutMs = 5000 }) {
      return waitFor(
        async () => {
          const logs = await target.accessLogSince(mark);
          return complete(logs) ? logs : null;
        },
        { timeoutMs, intervalMs: 100, what: `access logs: ${what}` },
      );
    },
    async settle(read, done, { maxMs, intervalMs = 250 }) {
      // pollUntil runs the check at least once, so `last` is always a real reading.
      let last!: Awaited<ReturnType<typeof read>>;
      const result = await pollUntil(
        async () => {
          last = await read();
          return done(last);
        },
        { timeoutMs: maxMs, intervalMs },
      );
      return { value: last, settled: result.value === true, afterMs: result.elapsedMs };
    },
    async waitForTrace(pick, { sinceMs, timeoutMs }) {
      const { value } = await pollUntil(async () => pick(await target.traces({ sinceMs })) ?? null, {
        timeoutMs,
        intervalMs: 250,
      });
      return value;
    },
    async sampleWhile(read, until, { everyMs, minMs = 0 }) {
      const samples: Awaited<ReturnType<typeof read>>[] = [];
      let done = false;
      void until.then(
        () => (done = true),
        () => (done = true),
      );
      const started = Date.now();
      while (!done || Date.now() - started < minMs) {
        try {
          samples.push(await read());
        } catch {
          /* a reading that timed out under load: skip it */
        }
        await pause(everyMs);
      }
      return samples;
    },
    pods: podsOf(state),
    instances: {
      async list(service) {
        return (await listInstances(options, service)).map(handleOf);
      },
      async start(service) {
        const record = await startInstance(options, service);
        const [started] = (await listInstances(options, service)).filter((i) => i.name === record.name);
        if (!started) throw new Error(`${record.name} started but is not in the lab's state`);
        return handleOf(started);
      },
      async delete(name) {
        const stopped = await deleteInstance(options, name);
        return stopped ? { preStopMs: stopped.preStopMs, exitedAfterMs: stopped.exitedAfterMs } : null;
      },
    },
    async traces(opts = {}): Promise<TraceSpan[][]> {
      const spans = (await readSpans(e.spansFile)).filter((s) => s.startMs >= (opts.sinceMs ?? 0));
      return groupTraces(spans).sort(
        (a, b) => Math.max(...b.map((s) => s.startMs)) - Math.max(...a.map((s) => s.startMs)),
      );
    },
  };

  const applied: string[] = [];

  async function apply(setup: Setup, restore: RestoreStack): Promise<void> {
    // A fault document is the service's: every running pod gets it, and each gets its own back.
    for (const [service, doc] of Object.entries(setup.appFaults) as [ServiceName, FaultDocument][]) {
      const running = (await target.instances.list(service)).filter((i) => i.running);
      const instances = running.length
        ? running
        : [{ name: service, adminUrl: target.urls.admin[service], running: true, ready: true, inEndpoints: null }];
      for (const instance of instances) {
        const previous = await getFaults(instance.adminUrl);
        // An instance a drill removed during the run took its faults with it: nothing to put back.
        const stillThere = async () =>
          instance.adminUrl === target.urls.admin[service] ||
          (await target.instances.list(service)).some((i) => i.running && i.name === instance.name);
        await restore.change(
          `${instance.name} faults back to ${JSON.stringify(previous)}`,
          async () => {
            if (await stillThere()) await putFaults(instance.adminUrl, previous);
          },
          async () => {
            await putFaults(instance.adminUrl, doc);
          },
        );
      }
      applied.push(`${service} faults ${JSON.stringify(doc)} on ${instances.map((i) => i.name).join(', ')}`);
    }
    for (const service of setup.withoutPreStop ?? []) {
      const previous = setPreStopSleep(options, service, 0);
      restore.push(`${service} preStop sleep back to ${previous} ms`, async () => {
        setPreStopSleep(options, service, previous);
      });
      applied.push(`${service} pods stopped without their preStop sleep (${previous / 1000} s in the manifests)`);
    }
    if (setup.mesh.length) {
      const original = currentMesh(options);
      let next = original;
      for (const change of setup.mesh.flatMap((component) => translateComponent(component)))
        next = patchListener(next, change.proxy, change.listener, change.patch);
      await restore.change(
        `mesh back to its description before ${setup.mesh.map((c) => `istio/faults/${c}`).join(', ')}`,
        async () => void (await applyMeshConfig(original, options)),
        async () => void (await applyMeshConfig(next, options)),
      );
    }
    if (setup.redisConfig && Object.keys(setup.redisConfig).length) {
      const redisUrl = target.urls.redis;
      if (!redisUrl) throw new Error('this setup changes Redis config but the lab runs without Redis');
      const client = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await client.connect();
      try {
        for (const [key, value] of Object.entries(setup.redisConfig)) {
          const [, previous] = (await client.config('GET', key)) as [string, string];
          await restore.change(
            `redis ${key} back to ${previous}`,
            async () => {
              const c = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
              await c.connect();
              try {
                await c.config('SET', key, previous);
              } finally {
                c.disconnect();
              }
            },
            async () => void (await client.config('SET', key, value)),
          );
        }
      } finally {
        client.disconnect();
      }
    }
  }

  async function snapshot(redisConfigKeys: string[]): Promise<StateSnapshot> {
    const redisConfig: Record<string, string> = {};
    if (redisConfigKeys.length && target.urls.redis) {
      const client = new Redis(target.urls.redis, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await client.connect();
      try {
        for (const key of redisConfigKeys) redisConfig[key] = ((await client.config('GET', key)) as string[])[1] ?? '';
      } finally {
        client.disconnect();
      }
    }
    const instanceNames = async (service: ServiceName) => (await target.instances.list(service)).map((i) => i.name);
    return {
      faults: {
        'web-api': await getFaults(target.urls.admin['web-api']),
        'recipe-api': await getFaults(target.urls.admin['recipe-api']),
      },
      mesh: currentMesh(options),
      redisConfig,
      instances: { 'web-api': await instanceNames('web-api'), 'recipe-api': await instanceNames('recipe-api') },
    };
  }

  /**
   * Adds the instances `wanted` asks for that the lab lacks. On restore, every instance the lab did
   * not have before is removed, whatever its name: a rollout during the run replaces instances.
   */
  async function scale(wanted: Partial<Record<ServiceName, number>>, restore: RestoreStack): Promise<void> {
    for (const [service, count] of Object.entries(wanted) as [ServiceName, number][]) {
      if (!state.membership?.services.includes(service))
        throw new Error(
          `this experiment runs ${count} instances of ${service}: start the lab with membership for it (npm run lab -- down; npm run lab -- up --replicas ${service}=1)`,
        );
      const before = await target.instances.list(service);
      await restore.change(
        `remove the ${service} instances added for the run`,
        async () => {
          // A rollout during the run replaces instances: as many as before stay, the newest added go first.
          const now = await target.instances.list(service);
          let surplus = now.length - before.length;
          for (const instance of now.filter((i) => !before.some((b) => b.name === i.name)).reverse()) {
            if (surplus-- <= 0) break;
            await target.instances.delete(instance.name);
          }
        },
        async () => {
          for (let i = before.filter((b) => b.running).length; i < count; i++) await target.instances.start(service);
        },
      );
    }
  }

  return {
    target,
    state,
    apply,
    startedHere,
    snapshot,
    scale,
    applied,
    departures: state.manifests?.departures ?? [
      'the lab was started before it read the manifests: run `npm run lab -- down` and up again',
    ],
  };
}

/** The pods as the lab runs them; a lab started before it read the manifests runs Kubernetes' defaults. */
function podsOf(state: LabState): Record<ServiceName, PodBehaviour> {
  if (state.pods) return state.pods;
  return { 'web-api': kubernetesDefaults('web-api'), 'recipe-api': kubernetesDefaults('recipe-api') };
}

/** One scrape of several pods' scrapes, each sample labelled with its pod. */
export function mergeScrapes(parts: { pod: string; scrape: Scrape }[]): Scrape {
  const merged: Scrape = { samples: [], types: {}, families: new Map() };
  for (const { pod, scrape } of parts) {
    const relabelled = new Map<Sample, Sample>();
    for (const sample of scrape.samples) {
      const copy = { ...sample, labels: { ...sample.labels, pod } };
      relabelled.set(sample, copy);
      merged.samples.push(copy);
    }
    Object.assign(merged.types, scrape.types);
    for (const [name, family] of scrape.families) {
      const into = merged.families.get(name) ?? { ...family, samples: [] };
      into.samples.push(...family.samples.map((s) => relabelled.get(s) ?? { ...s, labels: { ...s.labels, pod } }));
      merged.families.set(name, into);
    }
  }
  return merged;
}

function handleOf(status: InstanceStatus): InstanceHandle {
  const admin = status.ports.find((p) => p.name === 'admin');
  return {
    name: status.name,
    adminUrl: admin ? `http://127.0.0.1:${admin.port}` : '',
    running: status.running,
    ready: status.ready,
    inEndpoints: status.inEndpoints,
  };
}

async function readFrom(file: string, offset: number): Promise<string> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await handle.stat();
    if (size <= offset) return '';
    const buffer = Buffer.alloc(size - offset);
    await handle.read(buffer, 0, buffer.length, offset);
    return buffer.toString('utf8');
  } finally {
    await handle.close();
  }
}
