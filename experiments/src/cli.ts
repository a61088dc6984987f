import path from 'node:path';
import { parseCli, usage, UsageError } from './args.js';
import { catalogue, findExperiment, labAppEnv, labReplicas } from './catalogue.js';
import type { Experiment, Fix, Outcome } from './definition.js';
import { buildK8sReport } from './k8s-report.js';
import { checkLabSources, labSteps, renderSourceChecks } from './dry-run.js';
import { connectLab } from './targets/lab.js';
import { labStatus, stopLab } from '@recipe-mesh/lab/lab';
import { renderReport, type RunReport, writeReport } from './report.js';
import { recordRepeat, writeReportHtml } from './report-html/write.js';
import { writeReportPage } from './report-html/pages.js';
import { chooseFix, runOnLab } from './runner.js';
import { checkPlanSources, type K8sPlan, k8sPlan, renderPlan, runPlan } from './targets/k8s.js';
import { formatRepeats, summarizeRepeats } from './repeat.js';
import { repoRoot } from '@recipe-mesh/measure/repo';

/** `npm run experiment -- …` (package.json): list, run on the lab, or run/print the k8s plan. */

function list(): string {
  const lines = ['experiments:'];
  for (const e of catalogue as Experiment<unknown>[]) {
    lines.push(`  ${e.name.padEnd(20)} ${e.title}`);
    lines.push(`  ${''.padEnd(20)} from: ${e.incident.title}`);
    lines.push(
      `  ${''.padEnd(20)} fixes: ${e.fixes.map((f, i) => `${f.name}${i === 0 ? ' (default)' : ''}`).join(', ')}`,
    );
  }
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  let command;
  try {
    command = parseCli(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n\n${list()}\n\n${usage}`);
    return 2;
  }
  if (command.kind === 'help') {
    console.log(usage);
    return 0;
  }
  if (command.kind === 'list') {
    console.log(list());
    return 0;
  }
  if (command.kind === 'all') return runAll(command.durationS, command.keepLab);
  if (command.kind === 'report') {
    const file = await writeReportPage(path.join(repoRoot, 'reports'), command.name);
    console.log(`wrote ${path.relative(process.cwd(), file)}`);
    return 0;
  }
  const experiment = findExperiment(command.name);
  if (!experiment) {
    console.error(`unknown experiment "${command.name}"\n\n${list()}`);
    return 2;
  }
  let fix;
  try {
    fix = command.fix ? chooseFix(experiment, command.fixVariant) : null;
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  const log = (line: string) => console.error(`[${experiment.name}] ${line}`);
  const durationS = command.durationS ?? experiment.load.defaultDurationS;

  if (command.target === 'k8s') {
    const plan = k8sPlan(experiment, {
      fix,
      namespace: command.namespace,
      cluster: { kubeconfig: command.kubeconfig, context: command.context },
      durationS,
      ...(command.ingress ? { ingress: command.ingress } : {}),
    });
    if (command.dryRun) {
      console.log(renderPlan(plan));
      const checks = await checkPlanSources(plan);
      console.log(`signal sources (Prometheus, read-only):\n${renderSourceChecks(checks)}`);
      return checks.every((c) => c.ok) ? 0 : 1;
    }
    return runOnK8s(plan, experiment, fix, durationS, command, log);
  }

  if (command.dryRun) return labDryRun(experiment, fix, durationS, log);

  const runs: { outcome: Outcome | 'error'; held: boolean }[] = [];
  let lastRun: { report: RunReport; file: string } | undefined;
  for (let i = 0; i < command.repeat; i++) {
    if (command.repeat > 1) log(`run ${i + 1} of ${command.repeat}`);
    const last = i === command.repeat - 1;
    try {
      const { report, file, html } = await runOnLab({
        experiment,
        fix,
        durationS,
        // A lab this command started stays up between repeats and stops after the last one.
        lab: {
          root: repoRoot,
          start: true,
          keep: command.keepLab || !last,
          log,
          appEnv: labAppEnv(),
          replicas: labReplicas(command.replicas),
        },
        reportsDir: path.join(repoRoot, 'reports'),
        log,
        handleSignals: true,
      });
      console.log(command.json ? JSON.stringify(report, null, 2) : renderReport(report));
      log(`report written to ${path.relative(process.cwd(), file)} and ${path.relative(process.cwd(), html)}`);
      runs.push({ outcome: report.verdict.outcome, held: report.expectationHeld });
      lastRun = { report, file };
    } catch (error) {
      if (command.repeat === 1) throw error;
      log(`run ${i + 1} did not complete: ${(error as Error).message.split('\n')[0]}`);
      runs.push({ outcome: 'error', held: false });
    }
  }
  if (command.repeat > 1 && lastRun) {
    const k = runs.filter((r) => r.held).length;
    const html = await recordRepeat(lastRun.report, lastRun.file, { k, n: command.repeat });
    log(`reproduced ${k}/${command.repeat} recorded in ${path.relative(process.cwd(), html)}`);
  }
  return finishRepeats(runs, command.repeat, log);
}

/** Runs the plan (`--repeat` times) and writes each run's JSON and HTML report, as lab runs do. */
async function runOnK8s(
  plan: K8sPlan,
  experiment: Experiment<unknown>,
  fix: Fix | null,
  durationS: number,
  command: { repeat: number; json: boolean },
  log: (line: string) => void,
): Promise<number> {
  const runs: { outcome: Outcome | 'error'; held: boolean }[] = [];
  let lastRun: { report: RunReport; file: string } | undefined;
  for (let i = 0; i < command.repeat; i++) {
    if (command.repeat > 1) log(`run ${i + 1} of ${command.repeat}`);
    const run = await runPlan(plan, experiment, { log });
    runs.push({ outcome: run.verdict?.outcome ?? 'error', held: run.code === 0 });
    if (!run.verdict) continue;
    const report = await buildK8sReport({ experiment, fix, durationS, ...run });
    const file = await writeReport(report, path.join(repoRoot, 'reports'));
    const html = await writeReportHtml(report, file);
    console.log(command.json ? JSON.stringify(report, null, 2) : renderReport(report));
    log(`report written to ${path.relative(process.cwd(), file)} and ${path.relative(process.cwd(), html)}`);
    lastRun = { report, file };
  }
  if (command.repeat > 1 && lastRun) {
    const k = runs.filter((r) => r.held).length;
    const html = await recordRepeat(lastRun.report, lastRun.file, { k, n: command.repeat });
    log(`reproduced ${k}/${command.repeat} recorded in ${path.relative(process.cwd(), html)}`);
  }
  return finishRepeats(runs, command.repeat, log);
}

/** The lab's steps, then every signal source checked on the running lab; exit 1 when one is missing. */
async function labDryRun(
  experiment: Experiment<unknown>,
  fix: Fix | null,
  durationS: number,
  log: (line: string) => void,
): Promise<number> {
  const setup = fix?.setup ?? experiment.incidentSetup;
  console.log(`# ${experiment.name} on the lab (${fix ? `with fix ${fix.name}` : 'incident'}); nothing is injected`);
  labSteps(experiment, setup, durationS).forEach((step, i) => console.log(`${i + 1}. ${step}`));
  if (!(await labStatus({ root: repoRoot })).up) {
    console.log('signal sources: not checked, the lab is not up (make up)');
    return 1;
  }
  const lab = await connectLab({ root: repoRoot, start: false, log });
  const checks = await checkLabSources(experiment, lab);
  console.log(`signal sources:\n${renderSourceChecks(checks)}`);
  return checks.every((c) => c.ok) ? 0 : 1;
}

/** Exit 0 when every run held; with `--repeat` also prints `reproduced k/N`. */
function finishRepeats(
  runs: { outcome: Outcome | 'error'; held: boolean }[],
  repeat: number,
  log: (line: string) => void,
): number {
  if (repeat > 1) log(formatRepeats(summarizeRepeats(runs)));
  return runs.every((r) => r.held) ? 0 : 1;
}

/** Every experiment without and with each fix, on one lab (started once if down), then a summary. */
async function runAll(durationS: number | undefined, keepLab: boolean): Promise<number> {
  const log = (line: string) => console.error(line);
  const wasUp = (await labStatus({ root: repoRoot })).up;
  const results: string[] = [];
  let failed = 0;
  try {
    for (const experiment of catalogue as Experiment<unknown>[]) {
      for (const fix of [null, ...experiment.fixes]) {
        const label = `${experiment.name} ${fix ? `--fix-variant ${fix.name}` : '(incident)'}`;
        try {
          const { report, file, html } = await runOnLab({
            experiment,
            fix,
            ...(durationS !== undefined ? { durationS } : {}),
            lab: {
              root: repoRoot,
              start: true,
              keep: true,
              log: (l) => log(`[lab] ${l}`),
              appEnv: labAppEnv(),
              replicas: labReplicas(),
            },
            reportsDir: path.join(repoRoot, 'reports'),
            log: (l) => log(`[${experiment.name}] ${l}`),
            handleSignals: true,
          });
          console.log(renderReport(report));
          if (!report.expectationHeld) failed++;
          results.push(
            `${report.expectationHeld ? 'held' : 'NOT HELD'}  ${label}: ${report.verdict.outcome}  (${path.relative(repoRoot, file)}, ${path.relative(repoRoot, html)})`,
          );
        } catch (error) {
          failed++;
          results.push(`ERROR     ${label}: ${(error as Error).message.split('\n')[0]}`);
        }
      }
    }
  } finally {
    if (!wasUp && !keepLab) await stopLab({ root: repoRoot });
  }
  console.log(
    ['', 'experiments:', ...results.map((r) => `  ${r}`), `${results.length - failed} passed, ${failed} failed`].join(
      '\n',
    ),
  );
  return failed === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
