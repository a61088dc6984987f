import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { type ComponentPatch, readComponent, translateComponent } from '@recipe-mesh/experiments/mesh/components';
import { type MeshDescription, patchListener } from '@recipe-mesh/lab/mesh/description';
import type { StatusedObject } from '@recipe-mesh/experiments/k8s-mesh-push';

/**
 * The lab's Envoys follow the Istio objects in the cluster's API server, as istiod pushes a
 * changed VirtualService or DestinationRule to the sidecars: an `istio/faults` component counts as
 * applied when every field its patches set holds that value in the live object (and every field
 * it removes is absent), and the lab's mesh is then the base mesh with that component's lab
 * translation (experiments/src/mesh/components.ts, the one `--target lab` applies and the istiod
 * suite checks). `make fault-clear` puts the fields back, and the lab's Envoys back with them.
 */

/** A VirtualService or DestinationRule as the API server lists it, status included. */
export interface IstioObject extends StatusedObject {
  spec?: unknown;
}

/** The components of istio/faults (folders with a kustomization). */
export function faultComponents(root: string): string[] {
  const dir = path.join(root, 'istio/faults');
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(dir, d.name, 'kustomization.yaml')))
    .map((d) => d.name)
    .sort();
}

/** The value at a JSON pointer (RFC 6901), or undefined. */
function at(object: unknown, pointer: string): unknown {
  let value = object;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** Whether every patch of the component holds in the live objects. */
export function componentHolds(patches: ComponentPatch[], objects: IstioObject[]): boolean {
  return patches.every((patch) => {
    const object = objects.find((o) => o.kind === patch.kind && o.metadata.name === patch.name);
    if (!object) return false;
    return patch.ops.every((op) =>
      op.op === 'remove' ? at(object, op.path) === undefined : isDeepStrictEqual(at(object, op.path), op.value),
    );
  });
}

/**
 * The components applied in the live objects. A component built on another (`components:` in its
 * kustomization) makes that one hold too; applying both translations is the same as applying the
 * larger one, as each sets values.
 */
export function appliedComponents(root: string, objects: IstioObject[]): string[] {
  return faultComponents(root).filter((name) => componentHolds(readComponent(name, root), objects));
}

/** The base mesh with the components' lab translations. */
export function meshWith(base: MeshDescription, components: string[], root: string): MeshDescription {
  let mesh = base;
  for (const change of components.flatMap((c) => translateComponent(c, root)))
    mesh = patchListener(mesh, change.proxy, change.listener, change.patch);
  return mesh;
}
