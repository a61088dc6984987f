import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { renderWaterfall } from '@recipe-mesh/lab/trace/waterfall';
import type { StoredSpan } from '@recipe-mesh/measure/stored-span';
import { type LabDifference, labDifferencesThatCouldMatter } from '@recipe-mesh/lab/mesh/istiod-parity';
import type { Timeline } from './recording.js';
import type { Experiment, Fix, Presentation, Setup, Verdict } from './definition.js';
import type { LeftoverReport } from './leftovers.js';
import { decide, signalTable } from './verdict.js';

/** Everything one run found, as written to reports/<name>-<time>.json and printed for a person. */
export interface RunReport {
  experiment: string;
  title: string;
  incident: { title: string; source: string };
  target: 'lab' | 'k8s';
  mode: 'incident' | 'fix';
  fixVariant: string | null;
  startedAt: string;
  durationS: number;
  hypothesis: string;
  injected: string[];
  load: string;
  verdictRule: string;
  presentation: Presentation;
  verdict: Verdict;
  /** Incident seen without --fix, healthy with it. */
  expectationHeld: boolean;
  fix: { name: string; summary: string; production: Fix['production'] };
  restoreFailures: string[];
  /** Read back after restoring: app faults, mesh and Redis settings as before the run (leftovers.ts). */
  leftovers: LeftoverReport;
  /** Every signal's value as the verdict read it (verdict.ts). */
  signals: ReturnType<typeof signalTable>;
  /** The experiment's raw evidence, for whoever wants to dig further. */
  evidence: unknown;
  /** Time series recorded during the run (recording.ts), for the HTML report's charts. */
  timeline?: Timeline;
  /**
   * Lab runs: where the lab's Envoy config or data plane differs from Istio's in a way this run
   * could observe (lab/src/mesh/istiod-parity.ts, checked against a real istiod).
   */
  labDifferences?: LabDifference[];
}

export function buildReport(args: {
  experiment: Experiment<unknown>;
  target: 'lab' | 'k8s';
  fix: Fix | null;
  setup: Setup;
  startedAt: Date;
  durationS: number;
  evidence: unknown;
  restoreFailures: string[];
  leftovers: LeftoverReport;
}): RunReport {
  const { experiment, fix, evidence } = args;
  const values = experiment.readSignals(evidence);
  const verdict = decide(experiment, values);
  const shownFix = fix ?? experiment.fixes[0]!;
  return {
    experiment: experiment.name,
    title: experiment.title,
    incident: experiment.incident,
    target: args.target,
    mode: fix ? 'fix' : 'incident',
    fixVariant: fix?.name ?? null,
    startedAt: args.startedAt.toISOString(),
    durationS: args.durationS,
    hypothesis: experiment.hypothesis,
    injected: args.setup.describe,
    load: experiment.load.describe,
    verdictRule: experiment.verdictRule,
    presentation: experiment.present(evidence),
    verdict,
    // A run that left something behind has not held, whatever it showed.
    expectationHeld:
      expectationHeld(verdict, fix !== null) && args.leftovers.clean && args.restoreFailures.length === 0,
    fix: { name: shownFix.name, summary: shownFix.summary, production: shownFix.production },
    restoreFailures: args.restoreFailures,
    leftovers: args.leftovers,
    signals: signalTable(experiment, values),
    evidence,
    ...(args.target === 'lab' ? { labDifferences: labDifferencesThatCouldMatter() } : {}),
  };
}

/** Without --fix the incident must show; with it the system must be measurably healthy. */
export function expectationHeld(verdict: Verdict, fix: boolean): boolean {
  return fix ? verdict.outcome === 'healthy' : verdict.outcome === 'incident';
}

const fmt = (v: number | null, digits = 1) => (v === null || !Number.isFinite(v) ? '–' : v.toFixed(digits));
const indent = (text: string, by = '  ') =>
  text
    .split('\n')
    .map((l) => by + l)
    .join('\n');

/** The report as a person reads it in a terminal. */
export function renderReport(r: RunReport): string {
  const p = r.presentation;
  const out: string[] = [];
  const rule = '─'.repeat(78);
  out.push(
    rule,
    `${r.experiment} — ${r.title}   [${r.mode === 'fix' ? `with fix: ${r.fixVariant}` : 'incident'} · target ${r.target}]`,
  );
  out.push(`from: ${r.incident.title} (${r.incident.source})`, rule);
  out.push('Hypothesis', indent(r.hypothesis), '');
  out.push('Injected', ...r.injected.map((l) => `  • ${l}`), '');
  out.push('Load', indent(r.load), '');
  if (p.load.length) {
    out.push('Client outcomes (status and Envoy response flags)');
    for (const phase of p.load) {
      const counts =
        Object.entries(phase.byStatusFlag)
          .map(([k, n]) => `${k}: ${n}`)
          .join(', ') || '(none)';
      out.push(
        `  ${phase.phase.padEnd(14)} ${String(phase.requests).padStart(6)} requests  p50 ${fmt(phase.latencyMs.p50)} ms  p99 ${fmt(phase.latencyMs.p99)} ms   ${counts}`,
      );
    }
    out.push('');
  }
  if (p.signals.length) {
    out.push('Signals (baseline → observed)');
    for (const s of p.signals)
      out.push(
        `  ${s.name.padEnd(52)} ${fmt(s.baseline, 3).padStart(10)} → ${fmt(s.observed, 3).padStart(10)} ${s.unit}`,
      );
    out.push('');
  }
  out.push('What the verdict read (signal values)');
  for (const s of r.signals)
    out.push(`  ${s.title.padEnd(64)} ${fmt(s.value, 3).padStart(12)} ${s.unit}${s.required ? '' : ' (optional)'}`);
  out.push('');
  if (p.metricDeltas.length) {
    out.push('Metric deltas (admin /metrics, before → after)');
    for (const d of p.metricDeltas) {
      const labels = Object.entries(d.labels)
        .map(([k, v]) => `${k}="${v}"`)
        .join(',');
      const sign = d.delta !== null && d.delta > 0 ? '+' : '';
      out.push(
        `  ${d.service.padEnd(11)} ${(d.metric + (labels ? `{${labels}}` : '')).padEnd(48)} ${fmt(d.before, 0).padStart(12)} → ${fmt(d.after, 0).padStart(12)}  (${sign}${fmt(d.delta, 0)})`,
      );
    }
    out.push('');
  }
  const countsByListener = Object.entries(p.accessLogCounts);
  if (countsByListener.length) {
    out.push('Envoy access logs: responses by status and flag');
    for (const [who, counts] of countsByListener) {
      out.push(
        `  ${who.padEnd(28)} ${
          Object.entries(counts)
            .map(([k, n]) => `${k}: ${n}`)
            .join(', ') || '(none)'
        }`,
      );
    }
    out.push('');
  }
  if (p.accessLog.length) {
    out.push(`Matching access-log lines (${p.accessLog.length} shown)`);
    for (const { proxy, entry } of p.accessLog) out.push(`  [${proxy}] ${entry.raw}`);
    out.push('');
  }
  if (p.trace) {
    out.push(`One affected trace — ${p.trace.why}`);
    out.push(indent(renderWaterfall(p.trace.spans as StoredSpan[])), '');
  }
  if (p.findings.length) out.push('Findings', ...p.findings.map((f) => `  • ${f}`), '');
  out.push(
    `Verdict: ${r.verdict.outcome.toUpperCase()} — expectation ${r.expectationHeld ? 'HELD' : 'NOT HELD'} (${r.mode === 'fix' ? 'expected healthy' : 'expected the incident'})`,
  );
  out.push(`  rule: ${r.verdictRule}`);
  out.push(...r.verdict.reasons.map((l) => `  - ${l}`), '');
  out.push(`Fix (${r.fix.name}): ${r.fix.summary}`);
  for (const change of r.fix.production) {
    out.push(
      `  ${change.title}   [${change.kind}; in this repo: ${change.repoFile}]`,
      indent(change.snippet, '    │ '),
    );
  }
  if (r.labDifferences?.length) {
    out.push('', 'Lab vs Istio: differences this run could observe (docs/lab.md)');
    for (const d of r.labDifferences) out.push(`  • ${d.what}: ${d.affects}`);
  }
  if (r.restoreFailures.length)
    out.push('', 'RESTORE FAILED — check by hand:', ...r.restoreFailures.map((f) => `  ${f}`));
  out.push(
    '',
    `Cleanup check: ${r.leftovers.clean ? 'nothing left behind' : 'SOMETHING WAS LEFT BEHIND'}`,
    ...r.leftovers.checks.map((c) => `  ${c.ok ? '✓' : '✗'} ${c.what}: ${c.detail}`),
  );
  out.push(rule);
  return out.join('\n');
}

/** Writes the report as JSON under `dir` (reports/, git-ignored) and returns the file path. */
export async function writeReport(r: RunReport, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const stamp = r.startedAt.replace(/[:.]/g, '-');
  const file = path.join(dir, `${r.experiment}-${r.mode}${r.fixVariant ? `-${r.fixVariant}` : ''}-${stamp}.json`);
  await writeFile(file, `${JSON.stringify(r, null, 2)}\n`);
  return file;
}
