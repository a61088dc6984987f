import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { requireBinary } from '@recipe-mesh/measure/binaries';
import { evaluatePanels, type PanelRow } from '@recipe-mesh/lab/panels/evaluate';
import { allPanelsHaveData, formatPanelTable } from '@recipe-mesh/lab/panels/print';
import { waitForScrape } from '@recipe-mesh/measure/scrape';
import { readKubernetesOnly } from '@recipe-mesh/lab/panels/targets';
import { readState } from '@recipe-mesh/lab/process/state';
import { ucPanel } from '../../grafana/src/dashboards.js';
import { catalogue, labAppEnv, labReplicas } from '../src/catalogue.js';
import type { Experiment, Fix } from '../src/definition.js';
import { renderReport, type RunReport } from '../src/report.js';
import { runOnLab } from '../src/runner.js';
import { checkLabSources, renderSourceChecks } from '../src/dry-run.js';
import { compareSnapshots } from '../src/leftovers.js';
import { connectLab } from '../src/targets/lab.js';
import { warmUpDashboards } from './dashboard-traffic.js';
import { startPrivateLab } from '@recipe-mesh/lab/private-lab';
import { repoRoot } from '@recipe-mesh/measure/repo';
import { launchChromium } from '../src/report-html/browser.js';
import { checkReportPage, chromiumSkipReason } from './report-page-check.js';

/**
 * Every experiment against one real lab (Envoy, Redis, both services), without and with each of
 * its fixes, with short durations: what `make test` proves in CI. The lab runs on free ports
 * with its own state dir, so a developer's `make up` is never touched.
 */

const needed = ['envoy', 'redis-server'].map((b) => ({ b, r: requireBinary(b) }));
const missing = needed.filter(({ r }) => 'skip' in r).map(({ r }) => (r as { skip: string }).skip);

/** The dashboard checks also need the lab's Prometheus; the experiments do not. */
const prometheusBinary = requireBinary('prometheus');
const noPrometheus = 'skip' in prometheusBinary ? prometheusBinary.skip : false;
const dashboardsDir = path.join(repoRoot, 'grafana', 'dashboards');
/** Dashboards whose every query must return data in the lab after a short load. */
const labDashboards = ['recipe-mesh-services', 'recipe-mesh-nodejs', 'recipe-mesh-redis'];

/** The rows without data, as the table `npm run lab -- panels` prints, for assertion messages. */
function emptyPanels(rows: PanelRow[]): string {
  return formatPanelTable(
    rows.filter((r) => !r.skipped && (r.error || !((r.series ?? 0) > 0))),
    { showExpr: true },
  );
}

/** Seconds of load per run: enough for each verdict's minimum evidence, short enough for CI. */
const durations: Record<string, number> = {
  '503-uc': 12,
  'redis-scan-latency': 6,
  'client-abort-leak': 5,
  'upload-oom': 5,
  'circuit-breaker': 3,
  'no-healthy-upstream': 2,
  'rollout-503': 2,
  'post-retry-duplicates': 3,
  'event-loop-block': 6,
  'timeout-budget': 4,
};

describe('experiments in the lab', { skip: missing.length ? missing.join('; ') : false }, () => {
  let lab: Awaited<ReturnType<typeof startPrivateLab>>;
  const reportsDir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-experiment-reports-'));
  /** The HTML page each run wrote, opened in a browser once every run is done. */
  const pages: { html: string; report: RunReport; name: string }[] = [];

  before(async () => {
    lab = await startPrivateLab(() => {}, { appEnv: labAppEnv(), replicas: labReplicas() });
  });
  after(async () => {
    await lab?.stop();
    rmSync(reportsDir, { recursive: true, force: true });
  });

  const prometheusUrl = () => {
    const url = readState(lab.options.stateDir)?.endpoints.prometheusUrl;
    assert.ok(url, 'the lab runs Prometheus');
    return url;
  };

  // Before the experiments, so no fault or fix is in play: the lab as `make up` leaves it.
  test('dashboards: every Services, Node.js runtime and Redis query returns series after a short load', {
    skip: noPrometheus,
  }, async (t) => {
    const state = readState(lab.options.stateDir)!;
    await warmUpDashboards(state.endpoints.publicUrl, prometheusUrl());
    const rows = await evaluatePanels(prometheusUrl(), dashboardsDir, { dashboards: labDashboards });
    assert.deepEqual(new Set(rows.map((r) => r.dashboardUid)), new Set(labDashboards), 'each dashboard has queries');
    assert.ok(
      rows.every((r) => !r.skipped),
      'none of these dashboards has a Kubernetes-only query',
    );
    t.diagnostic(formatPanelTable(rows).split('\n').at(-1)!);
    assert.ok(allPanelsHaveData(rows), `panels without data after the warm-up load:\n${emptyPanels(rows)}`);
  });

  test('--dry-run finds every signal source of every experiment and injects nothing; a missing one fails', async () => {
    const connection = await connectLab({ ...lab.options, start: false });
    const before = await connection.snapshot([]);
    for (const experiment of catalogue as Experiment<unknown>[]) {
      const checks = await checkLabSources(experiment, connection);
      assert.ok(
        checks.every((c) => c.ok),
        `${experiment.name}:\n${renderSourceChecks(checks)}`,
      );
    }
    const absent = {
      ...catalogue[0]!,
      signals: {
        required: {
          gone: {
            ...Object.values(catalogue[0]!.signals.required)[0]!,
            labSource: { kind: 'metric', service: 'recipe-api', family: 'no_such_family_total' },
          },
        },
        optional: {},
      },
    } as Experiment<unknown>;
    const [gone] = await checkLabSources(absent, connection);
    assert.equal(gone?.ok, false);
    assert.match(gone!.detail, /does not export no_such_family_total/);
    assert.ok(compareSnapshots(before, await connection.snapshot([])).clean, 'a dry run changes nothing');
  });

  for (const experiment of catalogue as Experiment<unknown>[]) {
    for (const fix of [null, ...experiment.fixes] as (Fix | null)[]) {
      const label = `${experiment.name} ${fix ? `with fix ${fix.name}: healthy` : 'without fix: incident'}`;
      test(label, async (t) => {
        const { report, html } = await runOnLab({
          experiment,
          fix,
          durationS: durations[experiment.name]!,
          lab: { ...lab.options, start: false, keep: true },
          reportsDir,
          log: () => {},
          handleSignals: false,
        });
        pages.push({ html, report, name: `${experiment.name}-${fix ? fix.name : 'incident'}` });
        t.diagnostic(`${report.verdict.outcome}: ${report.verdict.reasons.join('; ')}`);
        assert.deepEqual(report.restoreFailures, []);
        assert.ok(
          report.leftovers.clean && report.leftovers.checks.length >= 3,
          `left behind: ${JSON.stringify(report.leftovers.checks)}`,
        );
        assert.ok(report.expectationHeld, `${label}\n${renderReport(report)}`);
      });
      if (experiment.name === '503-uc' && fix === null) {
        test('dashboards: the Mesh 503 UC panel (lab equivalent, Envoy stats) is above zero after 503-uc', {
          skip: noPrometheus,
        }, async (t) => {
          await waitForScrape(prometheusUrl(), Date.now());
          const equivalent = readKubernetesOnly(dashboardsDir).find(
            (k) => k.dashboard === 'recipe-mesh-mesh' && k.panel === ucPanel.title,
          );
          assert.ok(
            equivalent && equivalent.labEquivalent.length > 0,
            "kubernetes-only.json names the UC panel's lab equivalent",
          );
          const rows = (
            await evaluatePanels(prometheusUrl(), dashboardsDir, { dashboards: ['recipe-mesh-mesh'] })
          ).filter((r) => r.panel === ucPanel.title);
          const lab = rows.filter((r) => equivalent.labEquivalent.includes(r.refId));
          assert.equal(lab.length, equivalent.labEquivalent.length, formatPanelTable(rows, { showExpr: true }));
          t.diagnostic(lab.map((r) => `${r.refId}: ${r.series} series, max ${r.latestValue} UC/s`).join('; '));
          for (const r of lab)
            assert.ok(
              (r.series ?? 0) > 0 && (r.latestValue ?? 0) > 0,
              `503 UC panel reads ${r.latestValue} after 503-uc:\n${formatPanelTable(rows, { showExpr: true })}`,
            );
        });
      }
    }
  }

  // After every run: the page each one wrote, as a person opens it (offline, charts drawn, verdict).
  test("every run's HTML report opens offline with its charts drawn and the JSON's verdict", {
    skip: chromiumSkipReason(),
  }, async (t) => {
    const expected = (catalogue as Experiment<unknown>[]).reduce((n, e) => n + 1 + e.fixes.length, 0);
    assert.equal(pages.length, expected, 'a page for every run');
    const browser = await launchChromium();
    t.after(() => browser.close());
    for (const { html, report, name } of pages) {
      const { charts } = await checkReportPage(browser, html, report, {
        dir: path.join(repoRoot, 'reports'),
        name: `lab-run-${name}`,
      });
      t.diagnostic(`${name}: ${report.verdict.outcome}, charts ${charts.map((c) => `${c.id}(${c.points})`).join(' ')}`);
    }
  });
});
