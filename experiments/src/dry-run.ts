import { stat } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { familyOf } from '@recipe-mesh/measure/metric-text';
import { portIsOpen } from '@recipe-mesh/measure/net';
import type { Experiment, LabSource, Setup } from './definition.js';
import { translateComponent } from './mesh/components.js';
import type { LabConnection } from './targets/lab.js';
import { signalEntries } from './verdict.js';

/**
 * `--dry-run` on the lab (docs/experiments.md): every step the run would take, then a check that
 * every signal's source is there — the access log file, the metric family on the admin port,
 * Envoy's admin, the trace sink's file, Redis — without injecting anything.
 */

export interface SourceCheck {
  signal: string;
  source: string;
  ok: boolean;
  detail: string;
}

/** The setup as the steps a run takes on the lab, in words a person can follow by hand. */
export function labSteps(experiment: Experiment<unknown>, setup: Setup, durationS: number): string[] {
  const steps: string[] = [];
  for (const [service, doc] of Object.entries(setup.appFaults)) {
    steps.push(
      Object.keys(doc ?? {}).length
        ? `PUT ${service} admin /faults ${JSON.stringify(doc)}`
        : `DELETE ${service} admin /faults (no app fault)`,
    );
  }
  for (const component of setup.mesh) {
    for (const change of translateComponent(component))
      steps.push(
        `mesh istio/faults/${component}: ${change.proxy} listener ${change.listener} ${JSON.stringify(change.patch)}`,
      );
  }
  for (const [key, value] of Object.entries(setup.redisConfig ?? {})) steps.push(`redis CONFIG SET ${key} ${value}`);
  steps.push(`load for ${durationS} s: ${experiment.load.describe}`);
  steps.push('restore everything above in reverse order, then read the state back (the cleanup check)');
  return steps;
}

const describeSource = (source: LabSource): string => {
  switch (source.kind) {
    case 'access-log':
      return `${source.proxy} access log`;
    case 'metric':
      return `${source.service} /metrics ${source.family}`;
    case 'envoy-stats':
      return `${source.proxy} Envoy admin /stats`;
    case 'traces':
      return 'trace sink spans file';
    case 'redis':
      return 'Redis';
    case 'client':
      return "the run's own load";
  }
};

async function check(lab: LabConnection, source: LabSource): Promise<{ ok: boolean; detail: string }> {
  const { target, state } = lab;
  switch (source.kind) {
    case 'access-log': {
      const file = state.endpoints.accessLogs[source.proxy];
      if (!file) return { ok: false, detail: `the lab has no access log for ${source.proxy}` };
      return stat(file).then(
        () => ({ ok: true, detail: file }),
        () => ({ ok: false, detail: `${file} does not exist` }),
      );
    }
    case 'metric': {
      const scrape = await target.scrape(source.service);
      return familyOf(scrape, source.family)
        ? { ok: true, detail: `${source.family} is exported` }
        : { ok: false, detail: `${source.service} does not export ${source.family}` };
    }
    case 'envoy-stats': {
      const stats = await target.envoyStats(source.proxy, 'upstream_rq');
      return Object.keys(stats).length
        ? { ok: true, detail: `${Object.keys(stats).length} upstream_rq counters` }
        : { ok: false, detail: `${source.proxy} has no upstream_rq counters` };
    }
    case 'traces': {
      // The spans file appears with the first span; before any traffic the listening sink is the source.
      const sink = new URL(state.endpoints.traceSinkUrl);
      return (await portIsOpen(Number(sink.port), sink.hostname))
        ? {
            ok: true,
            detail: `trace sink listening at ${state.endpoints.traceSinkUrl}; spans in ${state.endpoints.spansFile}`,
          }
        : { ok: false, detail: `the trace sink at ${state.endpoints.traceSinkUrl} does not answer` };
    }
    case 'redis': {
      if (!target.urls.redis) return { ok: false, detail: 'the lab runs without Redis' };
      const client = new Redis(target.urls.redis, { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await client.connect();
        return { ok: (await client.ping()) === 'PONG', detail: target.urls.redis };
      } finally {
        client.disconnect();
      }
    }
    case 'client':
      return { ok: true, detail: 'recorded by the run itself' };
  }
}

/** Checks every signal's source on a running lab; a source that cannot be read is a failed check. */
export async function checkLabSources(experiment: Experiment<unknown>, lab: LabConnection): Promise<SourceCheck[]> {
  const checks: SourceCheck[] = [];
  for (const { signal } of signalEntries(experiment)) {
    const result = await check(lab, signal.labSource).catch((error: unknown) => ({
      ok: false,
      detail: error instanceof Error ? error.message : String(error),
    }));
    checks.push({ signal: signal.title, source: describeSource(signal.labSource), ...result });
  }
  return checks;
}

export function renderSourceChecks(checks: readonly SourceCheck[]): string {
  return checks.map((c) => `  ${c.ok ? '✓' : '✗'} ${c.signal} — ${c.source}: ${c.detail}`).join('\n');
}

/**
 * The k8s side of the same check, read-only: each signal's PromQL as the run would send it. A
 * query Prometheus rejects, or one that finds no series (nothing scraped under that namespace and
 * those labels), fails; a fresh cluster needs some traffic first (`make smoke`).
 */
export async function checkPrometheusSources(
  prometheusUrl: string,
  queries: readonly { signal: string; promql: string }[],
): Promise<SourceCheck[]> {
  const checks: SourceCheck[] = [];
  for (const { signal, promql } of queries) {
    const source = 'Prometheus';
    try {
      const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`, {
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await res.json()) as { status: string; error?: string; data?: { result?: unknown[] } };
      if (body.status !== 'success') checks.push({ signal, source, ok: false, detail: `rejected: ${body.error}` });
      else if (!body.data?.result?.length) checks.push({ signal, source, ok: false, detail: `no series: ${promql}` });
      else checks.push({ signal, source, ok: true, detail: `${body.data.result.length} series` });
    } catch (error) {
      checks.push({ signal, source, ok: false, detail: `unreachable: ${(error as Error).message}` });
    }
  }
  return checks;
}
