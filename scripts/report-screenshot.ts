// `make report-screenshot [EXPERIMENT=redis-scan-latency] [DURATION=<s>]`: README's picture of a report, from a
// real run. Runs the experiment (without its fix) on a private lab (free ports, its own state
// dir: a developer's `make up` is not touched), writes its report as every run does, and
// photographs the HTML page in Debian's Chromium into docs/report-screenshot.png. The page is
// shot only once its charts drew (the same window.__reportCharts the report tests read), and the
// picture is replaced only by a run whose expectation held (an inconclusive run on a loaded
// machine says so and leaves the old one).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { findExperiment, labAppEnv, labReplicas } from '@recipe-mesh/experiments/catalogue';
import { launchChromium } from '@recipe-mesh/experiments/report-html/browser';
import { runOnLab } from '@recipe-mesh/experiments/runner';
import { startPrivateLab } from '@recipe-mesh/lab/private-lab';
import { repoPath } from '@recipe-mesh/measure/repo';
import { tieChildrenToThisProcess } from '@recipe-mesh/measure/tie';

const name = process.argv[2] || 'redis-scan-latency';
/** Seconds per phase; longer than the experiment's default gathers enough samples on a loaded machine. */
const durationS = process.argv[3] ? Number(process.argv[3]) : undefined;
const experiment = findExperiment(name);
if (!experiment) {
  console.error(`no experiment named ${name} (npm run experiment -- list)`);
  process.exit(2);
}
const out = repoPath('docs', 'report-screenshot.png');
const log = (line: string) => console.error(line);
const reportsDir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-screenshot-'));

async function photograph(html: string): Promise<void> {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 1150 } });
    await page.goto(pathToFileURL(html).href, { waitUntil: 'load' });
    await page.waitForFunction(() => {
      const charts = (window as unknown as { __reportCharts?: { chart: { data: number[][] } }[] }).__reportCharts;
      return charts !== undefined && charts.length > 0 && charts.every((c) => (c.chart.data[0]?.length ?? 0) > 0);
    });
    await page.screenshot({ path: out });
  } finally {
    await browser.close();
  }
}

// The private lab dies with this script however it ends (Ctrl-C included), as a test's does.
tieChildrenToThisProcess();
const lab = await startPrivateLab(log, { appEnv: labAppEnv(), replicas: labReplicas() });
try {
  const { report, html } = await runOnLab({
    experiment,
    fix: null,
    ...(durationS ? { durationS } : {}),
    lab: { ...lab.options, start: false, keep: true },
    reportsDir,
    log,
    handleSignals: true,
  });
  log(`${name}: ${report.verdict.outcome}, expectation ${report.expectationHeld ? 'held' : 'NOT held'}`);
  if (report.expectationHeld) {
    await photograph(html);
    console.log(`wrote ${path.relative(process.cwd(), out)} from ${name} (${report.startedAt})`);
  } else {
    console.error(`${path.relative(process.cwd(), out)} left as it was: the run did not show the incident (try again)`);
    process.exitCode = 1;
  }
} finally {
  await lab.stop();
  rmSync(reportsDir, { recursive: true, force: true });
}
