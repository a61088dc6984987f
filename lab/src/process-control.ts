import { findBinary } from '@recipe-mesh/measure/binaries';
import { type EnvChanges, launchSpecs, siblingSpec } from './components/launch-specs.js';
import { LabError } from './errors.js';
import type { LabOptions } from './lab.js';
import { labPaths, readMeshFile } from './paths.js';
import { isRunning, launch } from './process/processes.js';
import { waitReady } from './process/readiness.js';
import { type ProcessRecord, readState, workloadsOf, writeState } from './process/state.js';

/**
 * Any process of a running lab (Redis, an Envoy, an app instance): signal it by the pid the lab
 * recorded (never by name: other labs and people share the machine), and start it again exactly
 * as `lab up` did. The instance drills (instances.ts) kill and restart through these.
 */

type ControlOptions = Pick<LabOptions, 'root' | 'stateDir' | 'apps' | 'appEnv' | 'scrapeIntervalSeconds'>;

export function labProcess(options: Pick<LabOptions, 'root' | 'stateDir'>, name: string): ProcessRecord {
  const state = readState(labPaths(options).stateDir);
  const record = state?.processes.find((p) => p.name === name);
  if (!record) throw new LabError(`the lab has no process named ${name}`);
  return record;
}

/**
 * Sends `signal` to the recorded pid, checked against its start time so a recycled pid is never
 * hit. SIGKILL goes to the process group too, so nothing the process forked survives it.
 */
export function signalLabProcess(
  options: Pick<LabOptions, 'root' | 'stateDir'>,
  name: string,
  signal: NodeJS.Signals,
): ProcessRecord {
  const record = labProcess(options, name);
  if (!isRunning(record)) throw new LabError(`${name} (pid ${record.pid}) is not running`);
  process.kill(signal === 'SIGKILL' ? -record.pid : record.pid, signal);
  return record;
}

/**
 * Starts `name` again with the command, env and ports of `lab up` (same options as it was started
 * with), records the new pid and resolves once it is ready. The old one must have exited.
 */
export async function restartLabProcess(
  options: ControlOptions,
  name: string,
  timeoutMs = 30_000,
  envChanges: EnvChanges = {},
): Promise<ProcessRecord> {
  const paths = labPaths(options);
  const state = readState(paths.stateDir);
  const index = state?.processes.findIndex((p) => p.name === name) ?? -1;
  if (!state || index < 0) throw new LabError(`the lab has no process named ${name}`);
  if (isRunning(state.processes[index]!)) throw new LabError(`${name} is still running; stop it first`);
  const old = state.processes[index]!;
  // An app instance starts again from its recorded command, env and ports (a container restart in
  // the same pod, no longer terminating); the rest as `lab up` did.
  const spec = old.instance
    ? siblingSpec(paths, old, { name, info: { ...old.instance, terminating: false } }, envChanges)
    : launchSpecs({
        paths,
        ports: state.ports,
        mesh: readMeshFile(paths),
        binaries: {
          envoy: findBinary('envoy'),
          redis: findBinary('redis-server'),
          prometheus: findBinary('prometheus'),
        },
        log: () => undefined,
        apps: options.apps,
        appEnv: options.appEnv,
        workloads: workloadsOf(state),
        ...(state.membership ? { membership: state.membership } : {}),
        scrapeIntervalSeconds: options.scrapeIntervalSeconds,
        scrapeLabels: state.scrapeLabels,
      }).find((s) => s.name === name);
  if (!spec) throw new LabError(`no launch spec for ${name}`);
  const record = launch(spec, paths.stateDir);
  state.processes[index] = record;
  writeState(state);
  await waitReady(record, timeoutMs);
  return record;
}
