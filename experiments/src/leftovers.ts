import { isDeepStrictEqual } from 'node:util';
import type { FaultDocument } from '@recipe-mesh/platform/faults';
import type { MeshDescription } from '@recipe-mesh/lab/mesh/description';
import type { ServiceName } from './definition.js';

/**
 * The end-of-run check that a run left nothing behind (docs/experiments.md, "Cleanup"): the app
 * fault documents, the mesh description the lab's Envoys run with and the Redis settings a setup
 * touched are compared with what they were before the run. Restore steps that "succeeded" can
 * still leave something on (a PUT that raced a Ctrl-C, a mesh reload that failed silently), so
 * this reads the state back instead of trusting the undo log.
 */

export interface StateSnapshot {
  faults: Record<ServiceName, FaultDocument>;
  mesh: MeshDescription;
  redisConfig: Record<string, string>;
  /** Instance names per service (the runner adds instances for a run and removes them after). */
  instances: Record<ServiceName, string[]>;
}

export interface LeftoverCheck {
  what: string;
  ok: boolean;
  /** What was found, in words: the value now, and before when they differ. */
  detail: string;
}

export interface LeftoverReport {
  clean: boolean;
  checks: LeftoverCheck[];
}

/** What a report says when the run failed before it could read its state back. */
export const leftoversNotChecked: LeftoverReport = {
  clean: false,
  checks: [{ what: 'leftover check', ok: false, detail: 'did not run' }],
};

const shown = (value: unknown) => JSON.stringify(value);

export function compareSnapshots(before: StateSnapshot, after: StateSnapshot): LeftoverReport {
  const checks: LeftoverCheck[] = [];
  for (const service of Object.keys(before.faults) as ServiceName[]) {
    const was = before.faults[service];
    const now = after.faults[service];
    checks.push({
      what: `${service} app faults`,
      ok: isDeepStrictEqual(was, now),
      detail: isDeepStrictEqual(was, now)
        ? `${shown(now)}, as before the run`
        : `${shown(now)} now, ${shown(was)} before the run`,
    });
  }
  const meshSame = isDeepStrictEqual(before.mesh, after.mesh);
  checks.push({
    what: 'mesh description (Envoy config)',
    ok: meshSame,
    detail: meshSame ? 'as before the run' : 'differs from the one before the run (npm run lab -- status shows it)',
  });
  // As many instances as before: a rollout during the run replaces them under new names, as
  // Kubernetes replaces pods, and the Deployment's replica count is what must come back.
  for (const service of Object.keys(before.instances) as ServiceName[]) {
    const was = before.instances[service];
    const now = after.instances[service] ?? [];
    const list = (names: string[]) => names.join(', ') || 'none';
    checks.push({
      what: `${service} instances`,
      ok: was.length === now.length,
      detail:
        was.length === now.length
          ? `${now.length} (${list(now)}), as many as before the run${list(now) === list(was) ? '' : ` (${list(was)})`}`
          : `${now.length} now (${list(now)}), ${was.length} before the run (${list(was)})`,
    });
  }
  for (const [key, was] of Object.entries(before.redisConfig)) {
    const now = after.redisConfig[key];
    checks.push({
      what: `redis ${key}`,
      ok: now === was,
      detail: now === was ? `${now}, as before the run` : `${now ?? 'unreadable'} now, ${was} before the run`,
    });
  }
  return { clean: checks.every((c) => c.ok), checks };
}
