import { type AccessLogEntry, countByStatusAndFlag, parseAccessLog } from '@recipe-mesh/measure/access-log';
import type { RequestRecord } from '@recipe-mesh/measure/requests';
import type { Experiment, Fix, Presentation, Setup } from './definition.js';
import type { LeftoverReport } from './leftovers.js';
import { phaseFromRecords } from './load/phase.js';
import { Recorder, withRecorder } from './recording.js';
import { buildReport, type RunReport } from './report.js';

import type { SignalComparison } from './k8s-evidence.js';

/**
 * A `--target k8s` run as the same report a lab run writes (reports/<experiment>-<time>.json and
 * .html, docs/experiments.md "Reports"): the signals as counted from every pod's access log and
 * admin metrics, each beside the PromQL Grafana shows, the pods the faults reached by name, the
 * flagged access-log lines, and the load the runner drove.
 */

/** The access log the report keeps: the lines with a response flag, and every line counted. */
const keptLogLines = 50;

export interface K8sEvidence {
  /** Each signal's PromQL as run (namespace and window filled), by signal key, and its value; null: no data. */
  queries: { name: string; promql: string; value: number | null }[];
  /** Each signal: the exact count, PromQL's answer, the value the verdict read, and whether they agree. */
  comparisons: SignalComparison[];
  /** The pods whose access logs were read, per workload. */
  pods: Record<string, string[]>;
  /** Every pod an app fault (or its restore) reached, by name. */
  faultedPods: { service: string; pod: string; phase: 'setup' | 'restore'; method: 'PUT' | 'DELETE' }[];
  /** Counts by `status flags` per `workload pod` over every access-log line read. */
  accessLogCounts: Record<string, Record<string, number>>;
  /** The lines that carry a response flag (UC, DC, URX…), the first ones, as `workload pod` and the raw line. */
  accessLog: { proxy: string; line: string }[];
  /** The load's requests (status, latency, flags), for the timeline. */
  load: RequestRecord[];
  /** What could not be read (a pod gone, a series missing), one line each. */
  notes: string[];
}

/** Adds one workload's pods' access logs to the evidence (counts per pod, flagged lines). */
export function mergeAccessLogEvidence(
  evidence: Pick<K8sEvidence, 'accessLog' | 'accessLogCounts'>,
  workload: string,
  entries: Record<string, AccessLogEntry[]>,
): Pick<K8sEvidence, 'accessLog' | 'accessLogCounts'> {
  const accessLogCounts = { ...evidence.accessLogCounts };
  const accessLog = [...evidence.accessLog];
  for (const [pod, lines] of Object.entries(entries)) {
    const proxy = `${workload} ${pod}`;
    accessLogCounts[proxy] = countByStatusAndFlag(lines);
    for (const e of lines.filter((l) => l.responseFlags.length > 0))
      if (accessLog.length < keptLogLines) accessLog.push({ proxy, line: e.raw });
  }
  return { accessLog, accessLogCounts };
}

/** The value the verdict reads per signal: the exact count where there is one, else PromQL's. */
export function k8sValues(evidence: K8sEvidence): Record<string, number | null> {
  if (evidence.comparisons.length > 0) return Object.fromEntries(evidence.comparisons.map((c) => [c.key, c.value]));
  return Object.fromEntries(evidence.queries.map((q) => [q.name, q.value]));
}

const shownValue = (v: number | null) => (v === null ? 'no data' : String(Math.round(v * 1000) / 1000));

function present(evidence: K8sEvidence, loadLabel: string): Presentation {
  const faulted = new Map<string, Set<string>>();
  for (const p of evidence.faultedPods.filter((f) => f.phase === 'setup'))
    faulted.set(p.service, (faulted.get(p.service) ?? new Set()).add(p.pod));
  return {
    load: evidence.load.length ? [phaseFromRecords(loadLabel, evidence.load)] : [],
    // Each signal's exact count beside what PromQL (and so Grafana) answered.
    signals: evidence.comparisons.flatMap((c) => [
      ...(c.exactSource
        ? [{ name: `${c.key}, exact (${c.exactSource})`, baseline: null, observed: c.exact, unit: '' }]
        : []),
      ...(c.promql ? [{ name: `${c.key}, PromQL`, baseline: null, observed: c.promqlValue, unit: '' }] : []),
    ]),
    metricDeltas: [],
    accessLog: evidence.accessLog.flatMap(({ proxy, line }) =>
      parseAccessLog(line).map((entry: AccessLogEntry) => ({ proxy, entry })),
    ),
    accessLogCounts: evidence.accessLogCounts,
    trace: null,
    findings: [
      ...[...faulted].map(([service, pods]) => `app faults reached ${service} pods ${[...pods].join(', ')}`),
      ...Object.entries(evidence.pods).map(([w, pods]) => `access logs read: ${w} pods ${pods.join(', ') || 'none'}`),
      ...evidence.comparisons.map(
        (c) =>
          `${c.key}: ${c.exactSource ? `exact ${shownValue(c.exact)}` : 'no exact reading'}${c.promql ? ` · PromQL ${shownValue(c.promqlValue)} ← ${c.promql}` : ''}${c.agree === false ? ' · DISAGREE' : ''}${c.note ? ` (${c.note})` : ''}`,
      ),
      ...evidence.notes,
    ],
  };
}

/**
 * The run's report, built by report.ts's `buildReport` like a lab run's: the experiment is seen
 * through its k8s verdict (`k8sSignals`) and a presentation of the k8s evidence. The timeline
 * holds the load per second and the fault window (setup applied → restore began).
 */
export async function buildK8sReport(args: {
  experiment: Experiment<unknown>;
  fix: Fix | null;
  startedAt: Date;
  durationS: number;
  evidence: K8sEvidence;
  restoreFailures: string[];
  leftovers: LeftoverReport;
  /** When the setup was applied and when the restore began (ms since the epoch). */
  faultWindow: { startMs: number; endMs: number } | null;
}): Promise<RunReport> {
  const { experiment, fix, evidence } = args;
  const setup: Setup = fix?.setup ?? experiment.incidentSetup;
  const loadLabel = 'load under fault';
  // The same experiment, reading its signals from the k8s evidence (the PromQL answers).
  const asK8s: Experiment<unknown> = {
    ...experiment,
    readSignals: (e) => k8sValues(e as K8sEvidence),
    present: (e) => present(e as K8sEvidence, loadLabel),
  };
  const recorder = new Recorder(args.startedAt.getTime());
  // Left open: the timeline ends it when the restore began.
  if (args.faultWindow) recorder.begin(fix ? 'fix' : 'fault', setup.describe.join('; '), args.faultWindow.startMs);
  // buildReport presents the evidence; the recorder collects the load phase it summarises.
  const report = await withRecorder(recorder, async () =>
    buildReport({
      experiment: asK8s,
      target: 'k8s',
      fix,
      setup,
      startedAt: args.startedAt,
      durationS: args.durationS,
      evidence,
      restoreFailures: args.restoreFailures,
      leftovers: args.leftovers,
    }),
  );
  return { ...report, timeline: recorder.timeline([], args.faultWindow?.endMs ?? Date.now()) };
}
