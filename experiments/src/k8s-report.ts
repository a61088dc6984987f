import { type AccessLogEntry, countByStatusAndFlag, parseAccessLog } from '@recipe-mesh/lab/mesh/access-log';
import type { RequestRecord } from '@recipe-mesh/measure/requests';
import type { Experiment, Fix, Presentation, Setup } from './definition.js';
import type { LeftoverReport } from './leftovers.js';
import { phaseFromRecords } from './load/phase.js';
import { Recorder, withRecorder } from './recording.js';
import { buildReport, type RunReport } from './report.js';

/**
 * A `--target k8s` run as the same report a lab run writes (reports/<experiment>-<time>.json and
 * .html, docs/experiments.md "Reports"): the evidence is what the plan fetched from the cluster,
 * the PromQL values and the sidecar's access-log lines, plus the load the runner drove.
 */

/** The access log the report keeps: the lines with a response flag, and every line counted. */
const keptLogLines = 50;
const sidecar = "recipe-api's sidecar";

export interface K8sEvidence {
  /** Each signal's PromQL as run (namespace and window filled), by signal key, and its value; null: no data. */
  queries: { name: string; promql: string; value: number | null }[];
  /** Counts by `status flags` over every access-log line the plan fetched. */
  accessLogCounts: Record<string, number>;
  /** The fetched lines that carry a response flag (UC, DC, URX…), the first ones. */
  accessLog: string[];
  /** The load's requests (status, latency, flags), for the timeline. */
  load: RequestRecord[];
}

/** The evidence of the access-log text `kubectl logs … -c istio-proxy` returned. */
export function accessLogEvidence(text: string): Pick<K8sEvidence, 'accessLog' | 'accessLogCounts'> {
  const entries = parseAccessLog(text);
  return {
    accessLogCounts: countByStatusAndFlag(entries),
    accessLog: entries
      .filter((e) => e.responseFlags.length > 0)
      .slice(0, keptLogLines)
      .map((e) => e.raw),
  };
}

export function k8sValues(evidence: K8sEvidence): Record<string, number | null> {
  return Object.fromEntries(evidence.queries.map((q) => [q.name, q.value]));
}

function present(evidence: K8sEvidence, loadLabel: string): Presentation {
  const entries = parseAccessLog(evidence.accessLog.join('\n'));
  return {
    load: evidence.load.length ? [phaseFromRecords(loadLabel, evidence.load)] : [],
    // The values are the report's signal table (buildReport); here the queries that gave them.
    signals: [],
    metricDeltas: [],
    accessLog: entries.map((entry: AccessLogEntry) => ({ proxy: sidecar, entry })),
    accessLogCounts: Object.keys(evidence.accessLogCounts).length ? { [sidecar]: evidence.accessLogCounts } : {},
    trace: null,
    findings: evidence.queries.map((q) => `${q.name}: ${q.value === null ? 'no data' : q.value} ← ${q.promql}`),
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
