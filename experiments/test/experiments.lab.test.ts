import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { requireBinary } from '@recipe-mesh/platform/testing/binaries';
import { catalogue, labAppEnv } from '../src/catalogue.js';
import type { Experiment, Fix } from '../src/definition.js';
import { renderReport } from '../src/report.js';
import { runOnLab } from '../src/runner.js';
import { startPrivateLab } from './lab-fixture.js';

/**
 * Every experiment against one real lab (Envoy, Redis, both services), without and with each of
 * its fixes, with short durations: what `make test` proves in CI. The lab runs on free ports
 * with its own state dir, so a developer's `make up` is never touched.
 */

const needed = ['envoy', 'redis-server'].map((b) => ({ b, r: requireBinary(b) }));
const missing = needed.filter(({ r }) => 'skip' in r).map(({ r }) => (r as { skip: string }).skip);

/** Seconds of load per run: enough for each verdict's minimum evidence, short enough for CI. */
const durations: Record<string, number> = { '503-uc': 12, 'redis-scan-latency': 6, 'client-abort-leak': 5, 'upload-oom': 5 };

describe('experiments in the lab', { skip: missing.length ? missing.join('; ') : false }, () => {
  let lab: Awaited<ReturnType<typeof startPrivateLab>>;
  const reportsDir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-experiment-reports-'));

  before(async () => {
    lab = await startPrivateLab(() => {}, labAppEnv());
  });
  after(async () => {
    await lab?.stop();
    rmSync(reportsDir, { recursive: true, force: true });
  });

  for (const experiment of catalogue as Experiment<unknown>[]) {
    for (const fix of [null, ...experiment.fixes] as (Fix | null)[]) {
      const label = `${experiment.name} ${fix ? `with fix ${fix.name}: healthy` : 'without fix: incident'}`;
      test(label, async () => {
        const { report } = await runOnLab({
          experiment,
          fix,
          durationS: durations[experiment.name]!,
          lab: { ...lab.options, start: false, keep: true },
          reportsDir,
          log: () => {},
          handleSignals: false,
        });
        assert.deepEqual(report.restoreFailures, []);
        assert.ok(report.expectationHeld, `${label}\n${renderReport(report)}`);
      });
    }
  }
});
