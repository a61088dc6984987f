import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RequestRecord } from '@recipe-mesh/measure/requests';
import { catalogue } from '../src/catalogue.js';
import type { Experiment } from '../src/definition.js';
import { accessLogEvidence, buildK8sReport, type K8sEvidence } from '../src/k8s-report.js';
import { compareK8sState, type K8sState } from '../src/k8s-state.js';
import { renderReport, type RunReport, writeReport } from '../src/report.js';
import { writeReportHtml } from '../src/report-html/write.js';
import { k8sPlan, minikubeAccess } from '../src/targets/k8s.js';
import { checkReportPage, chromiumSkipReason, launchChromium } from './report-page-check.js';

/**
 * A `--target k8s` run's report from recorded values (no cluster): the PromQL answers, the
 * access-log text `kubectl logs -c istio-proxy` returned and the load's requests, as runPlan
 * collects them, built into the same JSON and HTML report a lab run writes.
 */
const here = path.dirname(fileURLToPath(import.meta.url));
const reportsDir = path.resolve(here, '../../reports');
const uc = (catalogue as Experiment<unknown>[]).find((e) => e.name === '503-uc')!;

const at = (ms: number) => new Date(Date.UTC(2026, 11, 5, 11, 0, 0) + ms).toISOString();
/** Two lines of Istio's default text format, as the sidecar wrote them on minikube. */
const sidecarLog = [
  `[${at(1200)}] "GET /recipes/42 HTTP/1.1" 200 - via_upstream - "-" 0 512 3 2 "-" "autocannon" "8c4f0e1e-1c39-4f0c-9d0e-2b1c1d2e3f40" "recipe-api.recipe-mesh.svc.cluster.local:4000" "10.244.0.12:4000" inbound|4000|| 127.0.0.6:51427 10.244.0.12:4000 10.244.0.9:40212 outbound_.4000_._.recipe-api.recipe-mesh.svc.cluster.local default`,
  `[${at(2400)}] "GET /recipes/42 HTTP/1.1" 503 UC upstream_reset_before_response_started{connection_termination} - "-" 0 95 1 - "-" "autocannon" "1d2e3f40-8c4f-0e1e-1c39-4f0c9d0e2b1c" "recipe-api.recipe-mesh.svc.cluster.local:4000" "10.244.0.12:4000" inbound|4000|| 127.0.0.6:51433 10.244.0.12:4000 10.244.0.9:40218 outbound_.4000_._.recipe-api.recipe-mesh.svc.cluster.local default`,
].join('\n');

function recordedEvidence(startMs: number): K8sEvidence {
  const plan = k8sPlan(uc, { fix: null, cluster: minikubeAccess, durationS: 6 });
  const values: Record<string, number> = {
    ucResets: 7,
    inboundRequests: 1432,
    inbound5xx: 7,
    callerNon2xx: 0,
    envoyRetries: 0,
  };
  const queries = plan.steps.flatMap((s) =>
    s.kind === 'query' ? [{ name: s.name, promql: s.promql, value: values[s.name] ?? null }] : [],
  );
  // Six seconds of load, 40 requests a second, one 503 UC every 30 requests.
  const load: RequestRecord[] = Array.from({ length: 240 }, (_, i) => ({
    startedAtMs: startMs + 1000 + i * 25,
    status: i % 30 === 29 ? 503 : 200,
    latencyMs: 3 + (i % 7),
    flags: i % 30 === 29 ? ['UC'] : [],
    error: null,
    bytes: 512,
    burst: 0,
  }));
  return { queries, load, ...accessLogEvidence(sidecarLog) };
}

/** What runPlan reads back before the setup and after the restore (here: the same). */
const state: K8sState = {
  faults: { 'web-api': {}, 'recipe-api': {} },
  istio: { 'DestinationRule/recipe-api': { host: 'recipe-api.recipe-mesh.svc.cluster.local' } },
  redisConfig: {},
};

async function k8sReport(): Promise<RunReport> {
  const startedAt = new Date(Date.UTC(2026, 11, 5, 11, 0, 0));
  return buildK8sReport({
    experiment: uc,
    fix: null,
    startedAt,
    durationS: 6,
    evidence: recordedEvidence(startedAt.getTime()),
    restoreFailures: [],
    leftovers: compareK8sState(state, structuredClone(state)),
    faultWindow: { startMs: startedAt.getTime() + 800, endMs: startedAt.getTime() + 7500 },
  });
}

test("a k8s report carries the k8s verdict, the PromQL values and the sidecar's flagged log lines", async () => {
  const report = await k8sReport();
  assert.equal(report.target, 'k8s');
  assert.equal(report.verdict.outcome, 'incident');
  assert.equal(report.expectationHeld, true);
  assert.match(report.verdict.reasons[0]!, /^7 of 1432 requests through recipe-api's sidecar answered 503 UC/);
  assert.equal(report.leftovers.clean, true);
  assert.deepEqual(
    report.signals.filter((s) => s.required).map((s) => [s.key, s.value]),
    [
      ['ucResets', 7],
      ['inboundRequests', 1432],
      ['inbound5xx', 7],
      ['callerNon2xx', 0],
    ],
  );
  const p = report.presentation;
  // Only the flagged line is kept; both are counted.
  assert.equal(p.accessLog.length, 1);
  assert.match(p.accessLog[0]!.entry.raw, / 503 UC upstream_reset_before_response_started/);
  assert.deepEqual(p.accessLogCounts, { "recipe-api's sidecar": { '200 -': 1, '503 UC': 1 } });
  assert.deepEqual(p.load[0]?.byStatusFlag, { '200 -': 232, '503 UC': 8 });
  assert.ok(p.findings.some((f) => f.includes('destination_workload_namespace="recipe-mesh"')));
  assert.equal(report.timeline?.perSecond.length, 6);
  assert.deepEqual(
    report.timeline?.moments.map((m) => [m.kind, m.start, m.end]),
    [
      ['fault', 0.8, 7.5],
      ['phase', 1, 6.98],
    ],
  );
  assert.match(renderReport(report), /target k8s/);
});

test('a k8s run that left something behind, or read no data, does not hold', async () => {
  const startedAt = new Date();
  const evidence = recordedEvidence(startedAt.getTime());
  const left = { ...state, istio: { 'DestinationRule/recipe-api': { host: 'recipe-api', trafficPolicy: {} } } };
  const dirty = await buildK8sReport({
    experiment: uc,
    fix: null,
    startedAt,
    durationS: 6,
    evidence,
    restoreFailures: [],
    leftovers: compareK8sState(state, left),
    faultWindow: null,
  });
  assert.equal(dirty.verdict.outcome, 'incident');
  assert.equal(dirty.expectationHeld, false);
  assert.deepEqual(
    dirty.leftovers.checks.filter((c) => !c.ok).map((c) => c.what),
    ['Istio DestinationRule/recipe-api'],
  );
  const noData = await buildK8sReport({
    experiment: uc,
    fix: null,
    startedAt,
    durationS: 6,
    evidence: { ...evidence, queries: evidence.queries.map((q) => ({ ...q, value: null })) },
    restoreFailures: [],
    leftovers: compareK8sState(state, state),
    faultWindow: null,
  });
  assert.equal(noData.verdict.outcome, 'inconclusive');
  assert.equal(noData.expectationHeld, false);
});

test('a k8s report is written as JSON and HTML beside it, and the page opens offline with its charts', {
  skip: chromiumSkipReason(),
}, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-k8s-report-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const report = await k8sReport();
  const file = await writeReport(report, dir);
  assert.match(path.basename(file), /^503-uc-incident-.*\.json$/);
  const html = await writeReportHtml(report, file);
  assert.equal(html, file.replace(/\.json$/, '.html'));
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')).target, 'k8s');
  const browser = await launchChromium();
  t.after(() => browser.close());
  const { charts } = await checkReportPage(browser, html, report, { dir: reportsDir, name: 'k8s-report-test' }, 20);
  assert.deepEqual(
    charts.map((c) => c.id),
    ['chart-rate', 'chart-latency'],
  );
});
