import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '@recipe-mesh/measure/net';
import { repoRoot } from '@recipe-mesh/measure/repo';
import { startLab, stopLab, type LabOptions } from './lab.js';
import type { LabState } from './process/state.js';
import { defaultPorts, PortsTakenError, type LabPorts } from './ports.js';

export interface PrivateLab {
  options: { root: string; stateDir: string; ports: LabPorts; log: (line: string) => void };
  state: LabState;
  stop(): Promise<void>;
}

/**
 * A lab on free ports with its own state dir, so tests and benchmarks never touch a developer's
 * `make up`. Ports are free when picked but another process may take one before the lab binds
 * it, so a taken port means a fresh pick (three tries).
 */
/** Every lab port on a free port, so tests never collide with a developer's `make up`. */
export async function freeLabPorts(): Promise<LabPorts> {
  const ports = { ...defaultPorts };
  for (const key of Object.keys(ports) as (keyof LabPorts)[]) ports[key] = await freePort();
  return ports;
}

/**
 * Starts a lab on free ports. A port free when picked can be taken by another process before the
 * lab binds it, so a taken port means a fresh pick (three tries).
 */
export async function startLabOnFreePorts(
  options: Omit<LabOptions, 'ports'>,
): Promise<{ ports: LabPorts; state: LabState }> {
  for (let attempt = 1; ; attempt++) {
    const ports = await freeLabPorts();
    try {
      return { ports, state: await startLab({ ...options, ports }) };
    } catch (error) {
      if (!(error instanceof PortsTakenError) || attempt >= 3) throw error;
    }
  }
}

export async function startPrivateLab(
  log: (line: string) => void = () => {},
  { root = repoRoot, ...extra }: Pick<LabOptions, 'appEnv' | 'use' | 'apps' | 'replicas'> & { root?: string } = {},
): Promise<PrivateLab> {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-lab-'));
  let options!: PrivateLab['options'];
  let state!: LabState;
  try {
    const started = await startLabOnFreePorts({ root, stateDir, log, ...extra });
    options = { root, stateDir, ports: started.ports, log };
    state = started.state;
  } catch (error) {
    rmSync(stateDir, { recursive: true, force: true });
    throw error;
  }
  return {
    options,
    state,
    async stop() {
      await stopLab({ root, stateDir, graceMs: 5000 });
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
