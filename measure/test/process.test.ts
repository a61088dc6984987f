import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startProcess } from '../src/process.js';

const node = process.execPath;

test('startProcess waits for readiness, streams lines and stops the process by its pid', async () => {
  const lines: string[] = [];
  let ready = false;
  const child = await startProcess({
    name: 'printer',
    command: node,
    args: ['-e', 'console.log("one"); console.error("two"); setInterval(() => {}, 1000);'],
    onLine: (line) => {
      lines.push(line);
      if (line === 'two') ready = true;
    },
    ready: () => ready,
    readyTimeoutMs: 10_000,
  });
  assert.deepEqual(lines.sort(), ['one', 'two']);
  assert.match(child.output(), /one/);
  await child.stop();
  assert.equal(await child.exited, 'SIGTERM');
  await child.stop(); // safe twice
});

test('a process that exits before it is ready fails at once with its output', async () => {
  const started = Date.now();
  await assert.rejects(
    startProcess({
      name: 'quitter',
      command: node,
      args: ['-e', 'console.error("bad config"); process.exit(3)'],
      ready: () => false,
      readyTimeoutMs: 20_000,
    }),
    /quitter exited \(3\) during startup[\s\S]*bad config/,
  );
  assert.ok(Date.now() - started < 10_000, 'did not wait for the deadline');
});

test('a process that never gets ready fails at the deadline and is stopped', async () => {
  await assert.rejects(
    startProcess({
      name: 'sleeper',
      command: node,
      args: ['-e', 'setInterval(() => {}, 1000)'],
      ready: () => false,
      readyTimeoutMs: 300,
    }),
    /timed out after 300 ms waiting for sleeper ready/,
  );
});
