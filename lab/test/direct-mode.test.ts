import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { portIsOpen } from '@recipe-mesh/measure/net';
import { labStatus, startLab, stopLab } from '../src/lab.js';
import { statePath } from '../src/process/state.js';
import { alivePids, freeLabPorts, standIn, tempStateDir } from './helpers.js';
import { repoRoot } from '@recipe-mesh/measure/repo';

const run = promisify(execFile);

async function cli(stateDir: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', 'lab/src/cli.ts', ...args],
      {
        cwd: repoRoot,
        env: { ...process.env, LAB_STATE_DIR: stateDir },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('direct mode: without envoy, redis and prometheus the services run alone and the lab says so', {
  timeout: 120_000,
}, async (t) => {
  const stateDir = tempStateDir(t);
  const ports = await freeLabPorts();
  t.after(() => stopLab({ stateDir, graceMs: 3000 }));
  const lines: string[] = [];
  const state = await startLab({
    stateDir,
    ports,
    use: { envoy: false, redis: false, prometheus: false },
    apps: { webApi: standIn('web-api'), recipeApi: standIn('recipe-api') },
    log: (line) => lines.push(line),
  });
  assert.equal(state.mode, 'direct');
  assert.deepEqual(
    state.processes.map((p) => p.name),
    ['trace-sink', 'recipe-api', 'web-api'],
  );
  assert.equal(state.endpoints.publicUrl, `http://127.0.0.1:${ports.webApi}`);
  assert.deepEqual(state.endpoints.accessLogs, {});
  // envoy, redis-server and prometheus left out, and one instance of each service, not the manifests' two.
  assert.equal(state.missing.length, 5);
  assert.equal(state.missing.filter((l) => /runs 1 instance, the manifests 2 \(no mesh/.test(l)).length, 2);
  assert.ok(
    lines.some((l) => /running web-api and recipe-api directly \(no cache, no mesh\)/.test(l)),
    lines.join('\n'),
  );
  for (const via of ['http', 'graphql', 'grpc']) {
    const res = await fetch(`${state.endpoints.publicUrl}/api/recipes/42?via=${via}`);
    assert.equal(res.status, 200, via);
  }

  await t.test('the CLI shows status and logs, refuses a second up, and takes the lab down', async () => {
    const status = await cli(stateDir, 'status');
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^name\s+pid\s+ready\s+listens\s+url\s+log/m);
    assert.match(
      status.stdout,
      new RegExp(`^web-api\\s+\\d+\\s+yes\\s+http:${ports.webApi} admin:${ports.webApiAdmin}`, 'm'),
    );
    assert.match(status.stdout, /mode: direct/);
    const again = await cli(stateDir, 'up');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /the lab is already up .* Run `npm run lab -- down` \(or `make down`\) first\./);
    const logs = await cli(stateDir, 'logs', 'trace-sink');
    assert.match(logs.stdout, /trace sink listening/);
    const unknown = await cli(stateDir, 'logs', 'nope');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no log named nope; available: .*recipe-api/);
    const traces = await cli(stateDir, 'traces', '--last', '3');
    assert.equal(traces.code, 0);
    const pids = state.processes.map((p) => p.pid);
    const down = await cli(stateDir, 'down');
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /stopped trace-sink, recipe-api, web-api/);
    assert.deepEqual(alivePids(pids), []);
    assert.match((await cli(stateDir, 'status')).stdout, /the lab is down/);
    assert.match((await cli(stateDir, 'down')).stdout, /was not running/);
  });
});

test('after a crash that lost the state file, up refuses and down still finds and stops every lab process', {
  timeout: 120_000,
}, async (t) => {
  const stateDir = tempStateDir(t);
  const ports = await freeLabPorts();
  t.after(() => stopLab({ stateDir, graceMs: 3000 }));
  const state = await startLab({
    stateDir,
    ports,
    use: { envoy: false, redis: false, prometheus: false },
    apps: { webApi: standIn('web-api'), recipeApi: standIn('recipe-api') },
  });
  const pids = state.processes.map((p) => p.pid);
  // One process crashes, and the state file is gone (as if `up` died before writing it).
  process.kill(state.processes.find((p) => p.name === 'recipe-api')!.pid, 'SIGKILL');
  rmSync(statePath(stateDir));
  assert.equal((await labStatus({ stateDir })).up, false);
  await assert.rejects(
    startLab({ stateDir, ports, use: { envoy: false, redis: false, prometheus: false } }),
    /lab processes from an earlier run are still alive/,
  );
  const report = await stopLab({ stateDir });
  assert.ok(report.stopped.length >= 2, report.stopped.join(','));
  assert.deepEqual(alivePids(pids), []);
  for (const port of [ports.webApi, ports.webApiAdmin, ports.traceSink, ports.recipeApi])
    assert.equal(await portIsOpen(port), false, `port ${port}`);
});
