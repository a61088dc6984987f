import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { builtFile, isBuilt } from '../kube/build.js';
import { buildDefault } from './lib/kustomize.js';
import { repoPath } from './lib/repo.js';

/**
 * kube-score (built from the Go module proxy, k8s/kube) on the rendered overlay: every finding is
 * listed in docs/kubernetes.md ("kube-score findings") with why it is accepted, and every row there
 * still matches a finding.
 */
function skipReason(): string | null {
  if (isBuilt('kube-score')) return null;
  const reason = 'kube-score not built: run make kube-build';
  if (process.env.CI === 'true') throw new Error(`CI=true but ${reason}`);
  return reason;
}
const skip = skipReason();
const dir = mkdtempSync(path.join(tmpdir(), 'kube-score-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The docs table: check id → the workloads it is accepted for. */
function acceptedFindings(): Map<string, Set<string>> {
  const doc = readFileSync(repoPath('docs/kubernetes.md'), 'utf8');
  const start = doc.indexOf('### kube-score findings');
  const section = doc.slice(start, doc.indexOf('\n## ', start));
  const rows = section.split('\n').filter((l) => /^\| [a-z-]+ \|/.test(l) && !l.startsWith('| check |'));
  assert.ok(rows.length > 0, 'docs/kubernetes.md has a kube-score findings table');
  return new Map(
    rows.map((row) => {
      const [check, workloads] = row
        .split('|')
        .slice(1, 3)
        .map((c) => c.trim());
      return [check!, new Set(workloads!.split(',').map((w) => w.trim()))];
    }),
  );
}

interface Scored {
  object_name: string;
  checks: { check: { id: string }; grade: number; skipped: boolean }[];
}

describe('kube-score on the rendered overlay', { skip: skip ?? false }, () => {
  test('every finding is fixed or accepted in docs/kubernetes.md, and no accepted row is stale', () => {
    const file = path.join(dir, 'overlay.yaml');
    // YAML 1.1 as Go's parsers read it: a plain `no` (redis' args) would be a boolean there.
    writeFileSync(
      file,
      buildDefault()
        .map((o) => stringify(o, { version: '1.1' }))
        .join('---\n'),
    );
    const run = spawnSync(builtFile('kube-score', 'kube-score')!, ['score', '--output-format', 'json', file], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    assert.ok(run.stdout.trim().startsWith('['), `kube-score failed (${run.status}):\n${run.stderr}`);
    const found = new Map<string, Set<string>>();
    for (const object of JSON.parse(run.stdout) as Scored[]) {
      const workload = object.object_name.split('/').at(-1)!;
      for (const c of object.checks) {
        if (c.skipped || c.grade >= 10) continue;
        found.set(c.check.id, (found.get(c.check.id) ?? new Set()).add(workload));
      }
    }
    const accepted = acceptedFindings();
    const unlisted: string[] = [];
    for (const [check, workloads] of found)
      for (const w of workloads) if (!accepted.get(check)?.has(w)) unlisted.push(`${check}: ${w}`);
    assert.deepEqual(unlisted, [], 'findings neither fixed nor accepted in docs/kubernetes.md');
    const stale: string[] = [];
    for (const [check, workloads] of accepted)
      for (const w of workloads) if (!found.get(check)?.has(w)) stale.push(`${check}: ${w}`);
    assert.deepEqual(stale, [], 'rows in docs/kubernetes.md that kube-score no longer finds');
  });
});
