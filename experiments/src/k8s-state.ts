import { isDeepStrictEqual } from 'node:util';
import type { FaultDocument } from '@recipe-mesh/platform/faults';
import type { ServiceName } from './definition.js';
import type { LeftoverCheck, LeftoverReport } from './leftovers.js';

/**
 * The cleanup check of a `--target k8s` run (docs/experiments.md, "Cleanup"), read back from the
 * cluster rather than trusted from the undo log: the app fault document of every pod (each
 * through its own port-forward), the specs of the Istio resources `make fault` patches
 * (VirtualServices and DestinationRules of the namespace), the Redis settings the setup touched,
 * and what the run may patch in the services' pod templates (preStop, FAULTS).
 */

export interface K8sState {
  /** Per service, the fault document of each serving pod, in pod-name order. */
  faults: Partial<Record<ServiceName, FaultDocument[]>>;
  /** `Kind/name` → spec. */
  istio: Record<string, unknown>;
  redisConfig: Record<string, string>;
  /** `deployment/container` → its lifecycle and FAULTS variable. */
  templates: Record<string, { lifecycle: unknown; faultsEnv: string | null }>;
}

/** The Istio kinds the fault components patch (istio/faults/*), read with kubectl get. */
export const patchedIstioKinds = 'virtualservices.networking.istio.io,destinationrules.networking.istio.io';

/** `kubectl get … -o json` of patchedIstioKinds, as the state compares it. */
export function istioSpecs(json: string): Record<string, unknown> {
  const list = JSON.parse(json) as { items: { kind: string; metadata: { name: string }; spec: unknown }[] };
  return Object.fromEntries(list.items.map((o) => [`${o.kind}/${o.metadata.name}`, o.spec]));
}

/** `kubectl get deployments … -o json` → what a run may patch in each container. */
export function podTemplates(json: string): K8sState['templates'] {
  const list = JSON.parse(json) as {
    items: {
      metadata: { name: string };
      spec: {
        template: {
          spec: { containers: { name: string; lifecycle?: unknown; env?: { name: string; value?: string }[] }[] };
        };
      };
    }[];
  };
  return Object.fromEntries(
    list.items.flatMap((d) =>
      d.spec.template.spec.containers.map((c) => [
        `${d.metadata.name}/${c.name}`,
        { lifecycle: c.lifecycle ?? null, faultsEnv: c.env?.find((e) => e.name === 'FAULTS')?.value ?? null },
      ]),
    ),
  );
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
  // Pods may have been replaced (a rollout): the same documents on as many pods is what counts.
  for (const service of Object.keys(before.faults) as ServiceName[])
    compare(`${service} app faults (every pod)`, before.faults[service], after.faults[service]);
  const names = [...new Set([...Object.keys(before.istio), ...Object.keys(after.istio)])].sort();
  for (const name of names) compare(`Istio ${name}`, before.istio[name], after.istio[name], 'spec');
  for (const [key, was] of Object.entries(before.redisConfig)) compare(`redis ${key}`, was, after.redisConfig[key]);
  for (const [name, was] of Object.entries(before.templates))
    compare(`deployment ${name} preStop and FAULTS`, was, after.templates[name], 'as in the manifests');
  return { clean: checks.every((c) => c.ok), checks };
}
