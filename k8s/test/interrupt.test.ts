/**
 * An interrupted test run leaves nothing behind (docs/architecture.md, "Processes a test starts"):
 * a run of fixtures/hold-processes.test.ts through scripts/run-tests.mjs, as `make test` and
 * `make k8s-check` run every file, is stopped while a control plane and a lab with its Envoys are
 * up, and every pid they had must be gone. SIGTERM is what `timeout` and make pass on; SIGKILL passes
 * nothing on, so there only the test process guard and the kernel's parent-death signal act.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { requireBinary } from '@recipe-mesh/measure/binaries';
import { pollUntil } from '@recipe-mesh/measure/net';
import { alivePids } from '../../lab/test/helpers.js';
import { controlPlaneSkipReason } from './lib/control-plane.js';
import { repoPath } from './lib/repo.js';

const envoy = requireBinary('envoy');
const setpriv = requireBinary('setpriv');
const skipOf = (b: { path: string } | { skip: string }) => ('skip' in b ? b.skip : null);
const skip = controlPlaneSkipReason(['kubernetes', 'etcd', 'kwok', 'istio']) ?? skipOf(envoy) ?? skipOf(setpriv);

/** This process' environment without node:test's mark, which would make the inner run refuse to start. */
function outerTestEnv(): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  return env;
}

async function interruptedRun(signal: 'SIGTERM' | 'SIGKILL', controlPlane: boolean) {
  const dir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-interrupt-'));
  const pidsFile = path.join(dir, 'pids.json');
  const runner = spawn(
    process.execPath,
    [repoPath('scripts/run-tests.mjs'), repoPath('k8s/test/fixtures/hold-processes.test.ts')],
    {
      env: { ...outerTestEnv(), HOLD_PIDS_FILE: pidsFile, HOLD_CONTROL_PLANE: controlPlane ? '1' : '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  for (const stream of [runner.stdout, runner.stderr]) stream.on('data', (chunk: Buffer) => (output += chunk));
  const exited = new Promise<void>((resolve) => runner.once('exit', () => resolve()));
  let pids: Record<string, number> = {};
  try {
    await pollUntil(() => existsSync(pidsFile) || runner.exitCode !== null, { timeoutMs: 240_000, intervalMs: 200 });
    assert.ok(existsSync(pidsFile), `the fixture ended before holding anything:\n${output}`);
    pids = JSON.parse(readFileSync(pidsFile, 'utf8')) as Record<string, number>;
    assert.deepEqual(alivePids(Object.values(pids)).length, Object.keys(pids).length, 'every held process runs');
    runner.kill(signal);
    await exited;
    await pollUntil(() => alivePids(Object.values(pids)).length === 0, { timeoutMs: 30_000, intervalMs: 200 });
    const left = Object.entries(pids).filter(([, pid]) => alivePids([pid]).length > 0);
    assert.deepEqual(left, [], `still running after ${signal} to the test runner:\n${output.slice(-3000)}`);
    return pids;
  } finally {
    if (runner.exitCode === null) runner.kill('SIGKILL');
    // A backstop should the assertion above fail: this test stops what it started, by pid.
    for (const pid of alivePids(Object.values(pids))) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

test('an interrupted test run stops the control plane, the lab and every Envoy', { skip: skip ?? false }, async (t) => {
  await t.test('SIGTERM to the runner (Ctrl-C, timeout, make) stops a control plane and a lab', async () => {
    const pids = await interruptedRun('SIGTERM', true);
    for (const name of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'])
      assert.ok(pids[name], `${name} was held`);
    assert.ok(
      Object.keys(pids).some((n) => n.includes('envoy') || n.includes('sidecar') || n === 'ingress'),
      Object.keys(pids).join(', '),
    );
  });
  await t.test('SIGKILL to the runner, which passes nothing on, still stops the lab', async () => {
    await interruptedRun('SIGKILL', false);
  });
});
