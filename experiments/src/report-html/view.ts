import type { RunReport } from '../report.js';
import type { Timeline } from '../recording.js';
import { spanResponseFlags, spanStatus, type TraceSpan } from '../evidence/trace.js';

/**
 * What the HTML page shows, built from a run's JSON report. The page renders only this small
 * typed view, so a change in the evidence or verdict shape is absorbed here, in one place.
 */
export interface ReportView {
  experiment: string;
  title: string;
  incident: { title: string; source: string };
  mode: 'incident' | 'fix';
  fixVariant: string | null;
  startedAt: string;
  target: string;
  outcome: 'incident' | 'healthy' | 'inconclusive';
  /** `k/N` runs that showed the outcome, when the run was repeated. */
  repeat: { k: number; n: number } | null;
  expectationHeld: boolean;
  hypothesis: string;
  injected: string[];
  verdictRule: string;
  reasons: string[];
  phases: {
    phase: string;
    requests: number;
    byStatusFlag: Record<string, number>;
    p50: number | null;
    p99: number | null;
  }[];
  signals: { name: string; baseline: number | null; observed: number | null; unit: string }[];
  /** The values the verdict rule read, one per signal. */
  verdictInputs: { title: string; value: number | null; unit: string; required: boolean }[];
  metricDeltas: {
    service: string;
    series: string;
    before: number | null;
    after: number | null;
    delta: number | null;
  }[];
  accessLogCounts: Record<string, Record<string, number>>;
  accessLog: { proxy: string; raw: string }[];
  trace: { why: string; spans: (TraceSpan & { proves: boolean })[] } | null;
  findings: string[];
  fix: {
    name: string;
    summary: string;
    production: { kind: string; title: string; snippet: string; repoFile: string }[];
  };
  restoreFailures: string[];
  /** Null for reports written before runs read their state back (still listed by the index page). */
  leftovers: { clean: boolean; checks: { what: string; ok: boolean; detail: string }[] } | null;
  timeline: Timeline | null;
}

const labelText = (labels: Record<string, string>) => {
  const inner = Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  return inner ? `{${inner}}` : '';
};

/** The span that proves the incident: one that ended 5xx or carries Envoy response flags. */
function provingSpanId(spans: readonly TraceSpan[]): string | null {
  const failed = spans.filter((s) => spanResponseFlags(s).length > 0 || (spanStatus(s) ?? 0) >= 500);
  return failed.sort((a, b) => a.startMs - b.startMs)[0]?.spanId ?? null;
}

type StoredReport = Omit<RunReport, 'leftovers' | 'signals'> & Partial<Pick<RunReport, 'leftovers' | 'signals'>>;

export function reportView(r: StoredReport & { timeline?: Timeline; repeat?: { k: number; n: number } }): ReportView {
  const p = r.presentation;
  const proving = p.trace ? provingSpanId(p.trace.spans) : null;
  return {
    experiment: r.experiment,
    title: r.title,
    incident: r.incident,
    mode: r.mode,
    fixVariant: r.fixVariant,
    startedAt: r.startedAt,
    target: r.target,
    outcome: r.verdict.outcome,
    repeat: r.repeat ?? null,
    expectationHeld: r.expectationHeld,
    hypothesis: r.hypothesis,
    injected: r.injected,
    verdictRule: r.verdictRule,
    reasons: r.verdict.reasons,
    phases: p.load.map((l) => ({
      phase: l.phase,
      requests: l.requests,
      byStatusFlag: l.byStatusFlag,
      p50: l.latencyMs.p50,
      p99: l.latencyMs.p99,
    })),
    signals: p.signals,
    verdictInputs: (r.signals ?? []).map(({ title, value, unit, required }) => ({ title, value, unit, required })),
    metricDeltas: p.metricDeltas.map((d) => ({
      service: d.service,
      series: d.metric + labelText(d.labels as Record<string, string>),
      before: d.before,
      after: d.after,
      delta: d.delta,
    })),
    accessLogCounts: p.accessLogCounts,
    accessLog: p.accessLog.map(({ proxy, entry }) => ({ proxy, raw: entry.raw })),
    trace: p.trace
      ? { why: p.trace.why, spans: p.trace.spans.map((s) => ({ ...s, proves: s.spanId === proving })) }
      : null,
    findings: p.findings,
    fix: r.fix,
    restoreFailures: r.restoreFailures,
    leftovers: r.leftovers ?? null,
    timeline: r.timeline ?? null,
  };
}
