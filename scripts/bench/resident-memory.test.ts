import assert from 'node:assert/strict';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { formatResidentMemory, residentMemoryBreakdown } from './resident-memory.js';

const onLinux = existsSync('/proc/self/smaps');

test('splits this process’ resident memory into the node binary, other files and anonymous pages', {
  skip: onLinux ? false : 'needs /proc/<pid>/smaps (Linux)',
}, () => {
  const m = residentMemoryBreakdown(process.pid, realpathSync(process.execPath));
  const vmRssMiB = Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
  // Both read the same pages a moment apart; allocations in between move them a little.
  assert.ok(Math.abs(m.rssMiB - vmRssMiB) < 8, `${m.rssMiB} against VmRSS ${vmRssMiB}`);
  assert.ok(m.nodeBinaryMiB > 1 && m.nodeBinaryMiB <= m.fileMiB, formatResidentMemory(m));
  assert.ok(m.anonymousMiB > 1 && m.brkHeapMiB <= m.anonymousMiB, formatResidentMemory(m));
  // Each figure is rounded to 0.1 MiB on its own.
  assert.ok(Math.abs(m.fileMiB + m.anonymousMiB - m.rssMiB) < 0.15, `the parts add up: ${formatResidentMemory(m)}`);
});

test('counts a thread the process starts', { skip: onLinux ? false : 'needs /proc/<pid>/task (Linux)' }, async () => {
  const count = () =>
    Object.values(residentMemoryBreakdown(process.pid, process.execPath).threads).reduce((a, b) => a + b, 0);
  const before = count();
  const worker = new Worker('setInterval(() => {}, 1000)', { eval: true });
  await new Promise((resolve) => worker.once('online', resolve));
  try {
    assert.ok(count() > before, `threads ${before} → ${count()}`);
  } finally {
    await worker.terminate();
  }
});
