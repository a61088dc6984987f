import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parseAccessLogLine } from '@recipe-mesh/measure/access-log';
import { uploadOom, type UploadEvidence } from '../src/incidents/upload-oom.js';
import { buildReport, expectationHeld, renderReport, writeReport } from '../src/report.js';

const mib = 1024 * 1024;
const evidence: UploadEvidence = {
  memoryLimitBytes: 256 * mib,
  uploadBytes: 48 * mib,
  concurrent: 4,
  small: {
    phase: 'small upload',
    requests: 1,
    byStatusFlag: { '201 -': 1 },
    latencyMs: { count: 1, p50: 40, p90: 40, p99: 40, max: 40, mean: null },
  },
  oversized: {
    phase: '48 MiB uploads',
    requests: 4,
    byStatusFlag: { '201 -': 4 },
    latencyMs: { count: 4, p50: 500, p90: 900, p99: 900, max: 900, mean: null },
  },
  before: { rss: 200 * mib, heapUsed: 60 * mib, external: 10 * mib },
  peak: { rss: 390 * mib, heapUsed: 62 * mib, external: 160 * mib },
  externalClimb: 150 * mib,
  samples: 13,
  metricDeltas: [
    {
      service: 'recipe-api',
      metric: 'nodejs_external_memory_bytes',
      labels: {},
      before: 10 * mib,
      after: 150 * mib,
      delta: 140 * mib,
    },
  ],
  sidecarUploads: [
    parseAccessLogLine(
      '[2026-11-23T16:53:01.000Z] "POST /recipes/42/photo HTTP/1.1" 201 - via_upstream - "-" 50331904 120 900 899 "-" "-" "r1" "127.0.0.1:1" "127.0.0.1:2" inbound|4000|| 127.0.0.1:3 127.0.0.1:4 127.0.0.1:5 - default',
    )!,
  ],
};

const clean = { clean: true, checks: [] };

test('the report tells the story: hypothesis, injection, load, signals, log lines, verdict and the fix', () => {
  const report = buildReport({
    experiment: uploadOom as never,
    target: 'lab',
    fix: null,
    setup: uploadOom.incidentSetup,
    startedAt: new Date('2026-11-23T16:53:00Z'),
    durationS: 5,
    evidence,
    restoreFailures: [],
    leftovers: clean,
  });
  assert.equal(report.verdict.outcome, 'incident');
  assert.equal(report.expectationHeld, true);
  const text = renderReport(report);
  for (const part of [
    'Hypothesis',
    'Injected',
    'uploadLimits',
    'Client outcomes',
    '201 -: 4',
    'Signals',
    'external memory',
    'Metric deltas',
    'POST /recipes/42/photo',
    'Verdict: INCIDENT',
    'expectation HELD',
    'busboy',
    'photo-upload.ts',
  ]) {
    assert.ok(text.includes(part), `report lacks ${part}`);
  }
});

test('with --fix the same evidence does not hold the expectation', () => {
  const fix = uploadOom.fixes[0]!;
  const report = buildReport({
    experiment: uploadOom as never,
    target: 'lab',
    fix,
    setup: fix.setup,
    startedAt: new Date(),
    durationS: 5,
    evidence,
    restoreFailures: ['recipe-api faults: ECONNREFUSED'],
    leftovers: clean,
  });
  assert.equal(report.expectationHeld, false);
  assert.match(renderReport(report), /RESTORE FAILED/);
  assert.equal(expectationHeld({ outcome: 'healthy', reasons: [] }, true), true);
  assert.equal(expectationHeld({ outcome: 'inconclusive', reasons: [] }, true), false);
  assert.equal(expectationHeld({ outcome: 'inconclusive', reasons: [] }, false), false);
});

test('a run that left something behind does not hold, whatever it showed', () => {
  const report = buildReport({
    experiment: uploadOom as never,
    target: 'lab',
    fix: null,
    setup: uploadOom.incidentSetup,
    startedAt: new Date(),
    durationS: 5,
    evidence,
    restoreFailures: [],
    leftovers: {
      clean: false,
      checks: [{ what: 'recipe-api app faults', ok: false, detail: '{"uploadLimits":false} now, {} before the run' }],
    },
  });
  assert.equal(report.verdict.outcome, 'incident');
  assert.equal(report.expectationHeld, false);
  assert.match(
    renderReport(report),
    /SOMETHING WAS LEFT BEHIND[\s\S]*✗ recipe-api app faults: \{"uploadLimits":false\} now/,
  );
});

test('the JSON report lands under the reports directory with the evidence', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-reports-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const report = buildReport({
    experiment: uploadOom as never,
    target: 'lab',
    fix: null,
    setup: uploadOom.incidentSetup,
    startedAt: new Date('2026-11-23T16:53:00Z'),
    durationS: 5,
    evidence,
    restoreFailures: [],
    leftovers: clean,
  });
  const file = await writeReport(report, dir);
  assert.equal(path.dirname(file), dir);
  assert.match(path.basename(file), /^upload-oom-incident-2026-11-23T16-53-00-000Z\.json$/);
  const back = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(back.verdict.outcome, 'incident');
  assert.equal(back.evidence.samples, 13);
});
