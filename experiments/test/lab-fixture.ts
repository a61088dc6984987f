import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@recipe-mesh/platform/testing/net';
import { startLab, stopLab } from '@recipe-mesh/lab/lab';
import { defaultPorts, PortsTakenError, type LabPorts } from '@recipe-mesh/lab/ports';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Every lab port on a free port and a private state dir, so a developer's `make up` is never touched. */
export async function startPrivateLab(log: (line: string) => void = () => {}, appEnv: Record<string, string> = {}) {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-experiments-'));
  let options!: { root: string; stateDir: string; ports: LabPorts; log: (line: string) => void };
  // Ports are free when picked but another test may take one before the lab binds it: try again.
  for (let attempt = 1; ; attempt++) {
    const ports = { ...defaultPorts };
    for (const key of Object.keys(ports) as (keyof LabPorts)[]) ports[key] = await freePort();
    options = { root: repoRoot, stateDir, ports, log };
    try {
      await startLab({ ...options, appEnv });
      break;
    } catch (error) {
      if (error instanceof PortsTakenError && attempt < 3) continue;
      rmSync(stateDir, { recursive: true, force: true });
      throw error;
    }
  }
  return {
    options,
    async stop() {
      await stopLab({ root: repoRoot, stateDir, graceMs: 5000 });
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
