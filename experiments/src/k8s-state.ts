import { isDeepStrictEqual } from 'node:util';
import type { FaultDocument } from '@recipe-mesh/platform/faults';
import type { ServiceName } from './definition.js';
import type { LeftoverCheck, LeftoverReport } from './leftovers.js';

/**
 * The cleanup check of a `--target k8s` run (docs/experiments.md, "Cleanup"), read back from the
 * cluster rather than trusted from the undo log: the app fault documents through the admin
 * port-forwards, the specs of the Istio resources `make fault` patches (VirtualServices and
 * DestinationRules of the namespace), and the Redis settings the setup touched.
 */

export interface K8sState {
  faults: Partial<Record<ServiceName, FaultDocument>>;
  /** `Kind/name` → spec. */
  istio: Record<string, unknown>;
  redisConfig: Record<string, string>;
}

/** The Istio kinds the fault components patch (istio/faults/*), read with kubectl get. */
export const patchedIstioKinds = 'virtualservices.networking.istio.io,destinationrules.networking.istio.io';

/** `kubectl get … -o json` of patchedIstioKinds, as the state compares it. */
export function istioSpecs(json: string): Record<string, unknown> {
  const list = JSON.parse(json) as { items: { kind: string; metadata: { name: string }; spec: unknown }[] };
  return Object.fromEntries(list.items.map((o) => [`${o.kind}/${o.metadata.name}`, o.spec]));
}

/** `redis-cli CONFIG GET <key>` prints the key, then its value. */
export function redisConfigValue(output: string): string {
  return output.trim().split('\n')[1]?.trim() ?? '';
}

const shown = (value: unknown) => JSON.stringify(value);

export function compareK8sState(before: K8sState, after: K8sState): LeftoverReport {
  const checks: LeftoverCheck[] = [];
  /** `brief` says what was found when nothing changed; a change is shown in full. */
  const compare = (what: string, was: unknown, now: unknown, brief = shown(now)) => {
    const ok = isDeepStrictEqual(was, now);
    checks.push({ what, ok, detail: ok ? `${brief}, as before the run` : `${shown(now)} now, ${shown(was)} before` });
  };
  for (const service of Object.keys(before.faults) as ServiceName[])
    compare(`${service} app faults`, before.faults[service], after.faults[service]);
  const names = [...new Set([...Object.keys(before.istio), ...Object.keys(after.istio)])].sort();
  for (const name of names) compare(`Istio ${name}`, before.istio[name], after.istio[name], 'spec');
  for (const [key, was] of Object.entries(before.redisConfig)) compare(`redis ${key}`, was, after.redisConfig[key]);
  return { clean: checks.every((c) => c.ok), checks };
}
