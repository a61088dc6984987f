// `make soak` (docs/reliability.md): SOAK_DURATION (default 10m) through the mesh at half the
// measured maximum rate of the real mix, sampling each service's memory, fds and handles; fails
// when a floor grows faster than its bound (judge.ts) or when any answer is not what its request
// expects. SOAK_FAULTS (a fault document, e.g. {"streamCleanup":false}) is applied to recipe-api
// first: the way to see the soak catch a leak.
import { parseScrape, sumOf } from '@recipe-mesh/measure/metric-text';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pause } from '@recipe-mesh/measure/net';
import type { FaultDocument } from '@recipe-mesh/platform/faults';
import { putFaults } from '@recipe-mesh/measure/admin-client';
import { startPrivateLab } from '@recipe-mesh/lab/private-lab';
import { repoRoot } from '@recipe-mesh/measure/repo';
import { recipeApiConfigSchema } from '../../services/recipe-api/src/config.js';
import { formatBytes, formatResource, judge, type Resource, resources, warmUpMs } from './judge.js';
import { kindPicker, type RequestKind, soakMix } from './mix.js';
import { parseDuration, type Sample } from './slope.js';

const durationMs = parseDuration(process.env.SOAK_DURATION ?? '10m');
const faults = process.env.SOAK_FAULTS ? (JSON.parse(process.env.SOAK_FAULTS) as FaultDocument) : undefined;
/** Often enough for several samples per floor window even in a short run; one scrape per service. */
const sampleEveryMs = 2_000;
/** The closed-loop measurement of the mix's maximum rate. */
const probe = { connections: 20, durationMs: 10_000 };
const { UPLOAD_MAX_BYTES } = recipeApiConfigSchema.parse({});

const lab = await startPrivateLab((line) => console.error(line));
const services = {
  'web-api': lab.state.endpoints.webApiAdminUrl,
  'recipe-api': lab.state.endpoints.recipeApiAdminUrl,
};
const mix = soakMix({
  publicUrl: lab.state.endpoints.publicUrl,
  recipeApiViaSidecar: `http://127.0.0.1:${lab.state.ports.recipeApiSidecarInboundHttp}`,
  uploadMaxBytes: UPLOAD_MAX_BYTES,
});
const pick = kindPicker(mix);

/** Status counts per kind; a failed fetch counts under its error code. */
const outcomes = new Map<string, Map<string, number>>();
const unexpected = new Map<string, number>();
async function send(kind: RequestKind, i: number): Promise<void> {
  const outcome = await kind.send(i).then(String, (error: unknown) => {
    const cause = (error as { cause?: { code?: string } }).cause;
    return `error ${cause?.code ?? (error as Error).name}`;
  });
  const counts = outcomes.get(kind.name) ?? new Map<string, number>();
  counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  outcomes.set(kind.name, counts);
  if (!kind.expect.map(String).includes(outcome)) {
    const key = `${kind.name}: ${outcome}`;
    unexpected.set(key, (unexpected.get(key) ?? 0) + 1);
  }
}

/** Requests per second the mix sustains with `connections` closed-loop clients. */
async function maxRate(): Promise<number> {
  let next = 0;
  let completed = 0;
  const until = Date.now() + probe.durationMs;
  await Promise.all(
    Array.from({ length: probe.connections }, async () => {
      while (Date.now() < until) {
        const i = next++;
        await pick(i)
          .send(i)
          .catch(() => 0);
        completed++;
      }
    }),
  );
  return completed / (probe.durationMs / 1000);
}

try {
  if (faults) {
    await putFaults(services['recipe-api'], faults);
    console.log(`recipe-api faults: ${JSON.stringify(faults)}`);
  }
  const max = await maxRate();
  const rate = Math.max(2, Math.floor(max / 2));
  console.log(
    `mix: ${mix.map((k) => `${k.name} ×${k.weight}`).join(', ')}\n` +
      `max ${max.toFixed(0)} req/s (mix, ${probe.connections} closed-loop clients, ${probe.durationMs / 1000} s); ` +
      `soaking at ${rate} req/s for ${durationMs / 1000} s`,
  );
  // The probe's own load settles before the clock starts.
  await pause(2_000);

  const series: Record<string, Record<Resource, Sample[]>> = {};
  /**
   * Sampled to explain the judged resources, not judged: major GCs (how often the heap's floor is
   * really reached), the heap's reserved size, and memory outside the JS heap (Buffers).
   */
  const diagnostics = [
    'nodejs_gc_duration_seconds_count',
    'nodejs_heap_size_total_bytes',
    'nodejs_external_memory_bytes',
  ] as const;
  const diagnosticSamples: Record<string, Partial<Record<string, Sample[]>>> = {};
  const started = Date.now();
  let sampling = true;
  let missedScrapes = 0;
  const sampler = (async () => {
    while (sampling) {
      const atMs = Date.now() - started;
      for (const [service, admin] of Object.entries(services)) {
        series[service] ??= Object.fromEntries(resources.map((r) => [r, []])) as unknown as Record<Resource, Sample[]>;
        try {
          const scrape = parseScrape(await (await fetch(`${admin}/metrics`)).text());
          for (const resource of resources) {
            const value = sumOf(scrape, resource);
            if (value !== null) series[service][resource].push({ atMs, value });
          }
          for (const name of diagnostics) {
            const value = sumOf(scrape, name, name.startsWith('nodejs_gc') ? { kind: 'major' } : {});
            if (value !== null) ((diagnosticSamples[service] ??= {})[name] ??= []).push({ atMs, value });
          }
        } catch {
          missedScrapes++;
        }
      }
      await pause(Math.max(0, atMs + sampleEveryMs - (Date.now() - started)));
    }
  })();

  const inFlight = new Set<Promise<void>>();
  let mostInFlight = 0;
  let sent = 0;
  for (let i = 0; Date.now() - started < durationMs; i++) {
    const due = started + (i * 1000) / rate;
    if (due > Date.now()) await pause(due - Date.now());
    const request: Promise<void> = send(pick(i), i).finally(() => inFlight.delete(request));
    inFlight.add(request);
    mostInFlight = Math.max(mostInFlight, inFlight.size);
    sent++;
  }
  await Promise.all(inFlight);
  sampling = false;
  await sampler;

  console.log(
    `\n${sent} requests (${(sent / (durationMs / 1000)).toFixed(1)}/s, at most ${mostInFlight} in flight), by kind and outcome:`,
  );
  for (const [name, counts] of outcomes) console.log(`  ${name}: ${JSON.stringify(Object.fromEntries(counts))}`);
  if (missedScrapes) console.log(`(${missedScrapes} scrapes of /metrics failed and were skipped)`);
  const afterMs = warmUpMs(durationMs);
  console.log(
    `\ngrowth of the floor per minute after a ${afterMs / 1000} s warm-up (samples every ${sampleEveryMs / 1000} s), bound in ():`,
  );
  for (const [service, byName] of Object.entries(diagnosticSamples)) {
    const judged = (name: string) => byName[name]?.filter((p) => p.atMs >= afterMs) ?? [];
    const gcs = judged('nodejs_gc_duration_seconds_count');
    const n = (gcs.at(-1)?.value ?? 0) - (gcs[0]?.value ?? 0);
    const seconds = ((gcs.at(-1)?.atMs ?? 0) - (gcs[0]?.atMs ?? 0)) / 1000;
    const growth = (name: string) =>
      `${formatBytes(judged(name)[0]?.value ?? 0)} → ${formatBytes(judged(name).at(-1)?.value ?? 0)}`;
    console.log(
      `  ${service}: ${n} major GCs after warm-up${n ? ` (one every ${(seconds / n).toFixed(0)} s)` : ''}; ` +
        `heap total ${growth('nodejs_heap_size_total_bytes')}, external ${growth('nodejs_external_memory_bytes')}`,
    );
  }
  const judgements = judge(series, afterMs);
  for (const j of judgements) {
    console.log(
      `  ${j.service} ${j.resource}: ${formatResource(j.resource, j.slope)}/min (${formatResource(j.resource, j.bound)}); ` +
        `floor ${formatResource(j.resource, j.from)} → ${formatResource(j.resource, j.to)} ${j.ok ? 'ok' : 'TOO FAST'}`,
    );
  }
  const failures = [
    ...[...unexpected].map(([what, n]) => `unexpected ${what} (×${n})`),
    ...judgements
      .filter((j) => !j.ok)
      .map((j) => `${j.service} ${j.resource} grows ${formatResource(j.resource, j.slope)}/min`),
  ];
  const reportDir = path.join(repoRoot, 'reports');
  mkdirSync(reportDir, { recursive: true });
  const reportFile = path.join(reportDir, `soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    reportFile,
    JSON.stringify({
      durationMs,
      rate,
      faults,
      outcomes: Object.fromEntries([...outcomes].map(([k, v]) => [k, Object.fromEntries(v)])),
      judgements,
      series,
      diagnosticSamples,
    }),
  );
  console.log(`\nsamples: ${path.relative(repoRoot, reportFile)}`);
  if (failures.length) {
    console.log(`\nFAIL:\n  ${failures.join('\n  ')}`);
    process.exitCode = 1;
  } else console.log('\nPASS');
} finally {
  await lab.stop();
}
