import { stopLab, type LabOptions } from '@recipe-mesh/lab/lab';
import type { Experiment, Fix, RunContext } from './definition.js';
import { buildReport, writeReport, type RunReport } from './report.js';
import { Recorder, withRecorder } from './recording.js';
import { writeReportHtml } from './report-html/write.js';
import { RestoreStack } from './restore.js';
import { compareSnapshots, leftoversNotChecked, type LeftoverReport } from './leftovers.js';
import { connectLab } from './targets/lab.js';

export interface LabRunOptions {
  experiment: Experiment<unknown>;
  /** null: reproduce the incident; a fix: run with it applied. */
  fix: Fix | null;
  durationS?: number;
  /** Which lab (root, state dir, ports); started when not up, unless `start` is false. */
  lab: LabOptions & { start: boolean; keep: boolean };
  reportsDir: string;
  log: (line: string) => void;
  /** Install Ctrl-C/SIGTERM handlers that restore before exiting (the CLI does; tests do not). */
  handleSignals: boolean;
}

/** The fix named `variant`, or the experiment's first (default) fix. */
export function chooseFix(experiment: Experiment<unknown>, variant: string | undefined): Fix {
  if (variant === undefined) return experiment.fixes[0]!;
  const fix = experiment.fixes.find((f) => f.name === variant);
  if (!fix)
    throw new Error(
      `${experiment.name} has no fix "${variant}"; fixes: ${experiment.fixes.map((f) => f.name).join(', ')}`,
    );
  return fix;
}

/**
 * One experiment against the lab: connect (starting the lab if needed), let the experiment run
 * its phases with its setup, restore everything (also on failure and Ctrl-C), judge and report.
 */
export async function runOnLab(options: LabRunOptions): Promise<{ report: RunReport; file: string; html: string }> {
  const { experiment, fix, log } = options;
  const restore = new RestoreStack();
  const removeSignalHandlers = options.handleSignals ? restore.restoreOnSignals(log) : () => {};
  const setup = fix?.setup ?? experiment.incidentSetup;
  const durationS = options.durationS ?? experiment.load.defaultDurationS;
  const startedAt = new Date();
  const recorder = new Recorder(startedAt.getTime());
  let evidence: unknown;
  let failure: unknown;
  let restoreFailures: string[] = [];
  let leftovers: LeftoverReport | null = null;
  // What was injected, on which instances by name, and how the lab departs from the manifests.
  const injected = [...setup.describe];
  try {
    const lab = await connectLab({ ...options.lab, log });
    injected.push(...lab.departures.map((line) => `the lab departs from the manifests: ${line}`));
    if (lab.startedHere && !options.lab.keep) {
      // Pushed first, so it runs last: faults and mesh are restored on a live lab, then it stops.
      restore.push('stop the lab this run started', async () => {
        await stopLab(options.lab);
      });
    }
    // Pushed next, so it runs after every other undo and before the lab stops.
    const redisConfigKeys = Object.keys(setup.redisConfig ?? {});
    const before = await lab.snapshot(redisConfigKeys);
    restore.push('check that nothing was left behind', async () => {
      leftovers = compareSnapshots(before, await lab.snapshot(redisConfigKeys));
    });
    if (experiment.labInstances) await lab.scale(experiment.labInstances, restore);
    // The recorder sees every scrape and when the setup (fault or fix) was in place.
    const target = {
      ...lab.target,
      scrape: async (service: Parameters<typeof lab.target.scrape>[0]) => {
        const scrape = await lab.target.scrape(service);
        recorder.scrape(service, scrape);
        return scrape;
      },
    };
    const ctx: RunContext = {
      target,
      setup,
      fix: fix !== null,
      durationS,
      applySetup: async () => {
        await lab.apply(setup, restore);
        injected.push(...lab.applied.map((line) => `applied: ${line}`));
        const endWindow = recorder.begin(fix ? 'fix' : 'fault', fix ? `fix ${fix.name}` : 'fault');
        // Pushed after the setup's undos, so it runs first: the window ends as restoring begins.
        restore.push('end of the recorded setup window', async () => endWindow());
      },
      onRestore: (label, undo) => restore.push(label, undo),
      log,
    };
    evidence = await withRecorder(recorder, () => experiment.run(ctx));
  } catch (error) {
    failure = error;
  } finally {
    restoreFailures = await restore.restoreAll((line) => log(line));
    removeSignalHandlers();
  }
  if (failure !== undefined) {
    const message = failure instanceof Error ? failure.message : String(failure);
    throw new Error(
      `${experiment.name} did not complete: ${message}${restoreFailures.length ? `\nrestore failed: ${restoreFailures.join('; ')}` : ''}`,
      { cause: failure },
    );
  }
  const report = buildReport({
    experiment,
    target: 'lab',
    fix,
    setup: { ...setup, describe: injected },
    startedAt,
    durationS,
    evidence,
    restoreFailures,
    leftovers: leftovers ?? leftoversNotChecked,
  });
  report.timeline = recorder.timeline(report.presentation.metricDeltas);
  const file = await writeReport(report, options.reportsDir);
  const html = await writeReportHtml(report, file);
  return { report, file, html };
}
