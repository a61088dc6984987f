import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { RequestRecord } from '@recipe-mesh/measure/requests';
import { catalogue } from '../src/catalogue.js';
import type { Experiment } from '../src/definition.js';
import { parseAccessLog } from '@recipe-mesh/measure/access-log';
import { compareReadings, exactValues } from '../src/k8s-evidence.js';
import { buildK8sReport, type K8sEvidence, mergeAccessLogEvidence } from '../src/k8s-report.js';
import { compareK8sState, type K8sState } from '../src/k8s-state.js';
import { renderReport, type RunReport, writeReport } from '../src/report.js';
import { writeReportHtml } from '../src/report-html/write.js';
import { k8sPlan, minikubeAccess } from '../src/targets/k8s.js';
import { launchChromium } from '../src/report-html/browser.js';
import { checkReportPage, chromiumSkipReason } from './report-page-check.js';
import { repoPath } from '@recipe-mesh/measure/repo';

/**
 * A `--target k8s` run's report from recorded values (no cluster): the PromQL answers, the
 * access-log text `kubectl logs pod/… -c istio-proxy` returned for each of recipe-api's two pods
 * and the load's requests, assembled as runPlan assembles them, built into the same JSON and HTML
 * report a lab run writes.
 */
const reportsDir = repoPath('reports');
const uc = (catalogue as Experiment<unknown>[]).find((e) => e.name === '503-uc')!;

const at = (ms: number) => new Date(Date.UTC(2026, 11, 5, 11, 0, 0) + ms).toISOString();
/** Lines of Istio's default text format, as each recipe-api pod's sidecar wrote them on minikube. */
const line = (ms: number, status: string, pod: string) =>
  `[${at(ms)}] "GET /recipes/42 HTTP/1.1" ${status} "-" 0 95 1 - "-" "node" "8c4f0e1e-1c39-4f0c-9d0e-2b1c1d2e3f40" "recipe-api.recipe-mesh.svc.cluster.local:4000" "${pod}:4000" inbound|4000|| 127.0.0.6:51427 ${pod}:4000 10.244.0.9:40212 outbound_.4000_._.recipe-api.recipe-mesh.svc.cluster.local default`;
const podLogs: Record<string, string> = {
  'recipe-api-7d9f-abcde': [
    line(1200, '200 - via_upstream -', '10.244.0.12'),
    '2026-12-05T11:00:01.300000Z\twarning\tenvoy config\tan Envoy log line, not an access-log line',
  ].join('\n'),
  'recipe-api-7d9f-fghij': [
    line(1300, '200 - via_upstream -', '10.244.0.13'),
    line(2400, '503 UC upstream_reset_before_response_started{connection_termination} -', '10.244.0.13'),
  ].join('\n'),
};

/** PromQL as Prometheus answered: the one UC arrived in a series' first sample, so increase() read 0. */
const promqlValues: Record<string, number> = { ucResets: 0, inboundRequests: 3.2, inbound5xx: 0, callerNon2xx: 0 };

function recordedEvidence(startMs: number, promql = promqlValues): K8sEvidence {
  const plan = k8sPlan(uc, { fix: null, cluster: minikubeAccess, durationS: 6 });
  const queries = plan.steps.flatMap((s) =>
    s.kind === 'query' ? [{ name: s.name, promql: s.promql, value: promql[s.name] ?? null }] : [],
  );
  // Six seconds of load, 40 requests a second, all answered 200 (the caller's retries absorbed the UC).
  const load: RequestRecord[] = Array.from({ length: 240 }, (_, i) => ({
    startedAtMs: startMs + 1000 + i * 25,
    status: 200,
    latencyMs: 3 + (i % 7),
    flags: [],
    error: null,
    bytes: 512,
    burst: 0,
  }));
  const entries = Object.fromEntries(Object.entries(podLogs).map(([pod, text]) => [pod, parseAccessLog(text)]));
  const exact = exactValues(uc.k8s, { accessLogs: { 'recipe-api': entries }, metrics: {}, load });
  const keys = [...Object.keys(uc.signals.required), ...Object.keys(uc.signals.optional)];
  return {
    queries,
    comparisons: compareReadings(keys, uc.k8s, exact, queries),
    pods: { 'recipe-api': Object.keys(entries) },
    faultedPods: Object.keys(entries).map((pod) => ({
      service: 'recipe-api',
      pod,
      phase: 'setup' as const,
      method: 'PUT' as const,
    })),
    load,
    notes: [],
    ...mergeAccessLogEvidence({ accessLog: [], accessLogCounts: {} }, 'recipe-api', entries),
  };
}

/** What runPlan reads back before the setup and after the restore (here: the same). */
const state: K8sState = {
  faults: { 'web-api': [{}, {}], 'recipe-api': [{}, {}] },
  istio: { 'DestinationRule/recipe-api': { host: 'recipe-api.recipe-mesh.svc.cluster.local' } },
  redisConfig: {},
  templates: { 'recipe-api/recipe-api': { lifecycle: { preStop: { sleep: { seconds: 3 } } }, faultsEnv: null } },
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

test("a k8s report counts every pod's access log exactly, shows PromQL beside it, says where they disagree, and names the pods", async () => {
  const report = await k8sReport();
  assert.equal(report.target, 'k8s');
  // PromQL read 0 UC; the second pod's sidecar logged one: the verdict reads the exact count.
  assert.equal(report.verdict.outcome, 'incident');
  assert.equal(report.expectationHeld, true);
  assert.match(report.verdict.reasons[0]!, /^1 of 3 requests through recipe-api's sidecar answered 503 UC/);
  assert.equal(report.leftovers.clean, true);
  assert.deepEqual(
    report.signals.filter((s) => s.required).map((s) => [s.key, s.value]),
    [
      ['ucResets', 1],
      ['inboundRequests', 3],
      ['inbound5xx', 1],
      ['callerNon2xx', 0],
    ],
  );
  const p = report.presentation;
  assert.equal(p.accessLog.length, 1);
  assert.equal(p.accessLog[0]!.proxy, 'recipe-api recipe-api-7d9f-fghij');
  assert.match(p.accessLog[0]!.entry.raw, / 503 UC upstream_reset_before_response_started/);
  assert.deepEqual(p.accessLogCounts, {
    'recipe-api recipe-api-7d9f-abcde': { '200 -': 1 },
    'recipe-api recipe-api-7d9f-fghij': { '200 -': 1, '503 UC': 1 },
  });
  assert.ok(p.findings.includes('app faults reached recipe-api pods recipe-api-7d9f-abcde, recipe-api-7d9f-fghij'));
  const uc = p.findings.find((f) => f.startsWith('ucResets:'))!;
  assert.match(uc, /exact 1 · PromQL 0 ← .*response_flags="UC".* · DISAGREE/);
  assert.match(
    p.findings.find((f) => f.startsWith('inboundRequests:'))!,
    /exact 3 · PromQL 3\.2 ← .*destination_workload_namespace="recipe-mesh"/,
  );
  assert.ok(!p.findings.find((f) => f.startsWith('inboundRequests:'))!.includes('DISAGREE'));
  assert.ok(p.signals.some((s) => s.name.startsWith('ucResets, exact') && s.observed === 1));
  assert.ok(p.signals.some((s) => s.name === 'ucResets, PromQL' && s.observed === 0));
  assert.deepEqual(p.load[0]?.byStatusFlag, { '200 -': 240 });
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
    // No exact evidence either (no pod's log was read) and Prometheus has nothing: not a pass.
    evidence: {
      ...evidence,
      comparisons: evidence.comparisons.map((c) => ({ ...c, exact: null, promqlValue: null, value: null })),
    },
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
