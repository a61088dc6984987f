import { readFile } from 'node:fs/promises';
import { portIsOpen } from '@recipe-mesh/measure/net';
import { LabError } from '../errors.js';
import { isRunning } from './processes.js';
import type { ProcessRecord } from './state.js';

/** Ready = its readiness URL answers 2xx, or (without one) every port accepts connections. */
export async function readyCheck(record: ProcessRecord): Promise<boolean> {
  if (record.readyUrl) {
    try {
      const res = await fetch(record.readyUrl, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return res.ok;
    } catch {
      return false;
    }
  }
  const open = await Promise.all(record.ports.map((p) => portIsOpen(p.port)));
  return open.every(Boolean);
}

export async function tail(file: string, lines = 15): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Waits until ready; fails at once, with the log's tail, when the process exits first. */
export async function waitReady(record: ProcessRecord, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!isRunning(record)) {
      throw new LabError(
        `${record.name} exited during startup; last lines of ${record.log}:\n${await tail(record.log)}`,
      );
    }
    if (await readyCheck(record)) return;
    if (Date.now() > deadline) {
      throw new LabError(
        `${record.name} was not ready after ${timeoutMs} ms (${record.readyUrl ?? 'ports'}); last lines of ${record.log}:\n${await tail(record.log)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
