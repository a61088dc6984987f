import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parseCli, parseDuration, UsageError } from '../src/args.js';

test('parses a run with every option', () => {
  assert.deepEqual(
    parseCli([
      '503-uc',
      '--fix-variant',
      'proxy-idle-timeout',
      '--target',
      'k8s',
      '--duration',
      '20s',
      '--json',
      '--dry-run',
      '--namespace',
      'mesh',
      '--kubeconfig',
      '.kube/recipe-mesh-test.kubeconfig',
      '--context',
      'recipe-mesh-test',
      '--ingress',
      'http://127.0.0.1:18080',
      '--replicas',
      '1',
    ]),
    {
      kind: 'run',
      name: '503-uc',
      fix: true,
      fixVariant: 'proxy-idle-timeout',
      target: 'k8s',
      durationS: 20,
      json: true,
      keepLab: false,
      dryRun: true,
      namespace: 'mesh',
      kubeconfig: '.kube/recipe-mesh-test.kubeconfig',
      context: 'recipe-mesh-test',
      ingress: 'http://127.0.0.1:18080',
      repeat: 1,
      replicas: 1,
    },
  );
  assert.throws(() => parseCli(['upload-oom', '--replicas', '0']), UsageError);
  const plain = parseCli(['upload-oom']);
  assert.equal(plain.kind === 'run' && plain.fix, false);
  assert.equal(plain.kind === 'run' && plain.target, 'lab');
  assert.deepEqual(parseCli(['--list']), { kind: 'list' });
  const k8s = parseCli(['503-uc', '--target', 'k8s']);
  assert.ok(k8s.kind === 'run' && k8s.context === 'recipe-mesh' && k8s.kubeconfig.endsWith('/.kube/config'));
  assert.throws(() => parseCli(['503-uc', '--context', 'x']), UsageError);
  assert.throws(() => parseCli(['503-uc', '--ingress', 'http://127.0.0.1']), UsageError);
  assert.throws(() => parseCli(['503-uc', '--target', 'k8s', '--ingress', '127.0.0.1:80']), /expected http/);
  assert.ok(k8s.kind === 'run' && k8s.ingress === undefined);
});

test('rejects what it cannot run', () => {
  assert.throws(() => parseCli([]), UsageError);
  assert.throws(() => parseCli(['503-uc', '--target', 'aws']), UsageError);
  assert.throws(() => parseCli(['503-uc', '--bogus']), UsageError);
  assert.throws(() => parseCli(['503-uc', '--repeat', '0']), UsageError);
  assert.throws(() => parseDuration('soon'), UsageError);
  assert.throws(() => parseDuration('0'), UsageError);
  assert.equal(parseDuration('2.5'), 2.5);
});

test('--dry-run works on both targets', () => {
  for (const target of ['lab', 'k8s']) {
    const command = parseCli(['503-uc', '--dry-run', '--target', target]);
    assert.ok(command.kind === 'run' && command.dryRun && command.target === target);
  }
});

test('--all takes only the lab options', () => {
  assert.deepEqual(parseCli(['--all', '--duration', '8']), { kind: 'all', durationS: 8, keepLab: false });
  assert.throws(() => parseCli(['--all', '503-uc']), UsageError);
  assert.throws(() => parseCli(['--all', '--target', 'k8s']), UsageError);
});

test('--kubeconfig without --context takes its current-context; one without any, or missing, is a usage error', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-args-'));
  try {
    const file = path.join(dir, 'kubeconfig');
    writeFileSync(file, 'apiVersion: v1\nkind: Config\ncurrent-context: recipe-mesh-test\n');
    const run = parseCli(['503-uc', '--target', 'k8s', '--kubeconfig', file]);
    assert.ok(run.kind === 'run' && run.context === 'recipe-mesh-test' && run.kubeconfig === file);
    const named = parseCli(['503-uc', '--target', 'k8s', '--kubeconfig', file, '--context', 'other']);
    assert.ok(named.kind === 'run' && named.context === 'other');
    writeFileSync(file, 'apiVersion: v1\nkind: Config\n');
    assert.throws(() => parseCli(['503-uc', '--target', 'k8s', '--kubeconfig', file]), /names no current-context/);
    assert.throws(() => parseCli(['503-uc', '--target', 'k8s', '--kubeconfig', path.join(dir, 'none')]), UsageError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
