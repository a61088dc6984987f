import { pause } from '@recipe-mesh/measure/net';

/**
 * Waiting for a mesh change to reach the proxies before the load, as `kubectl wait
 * --for=condition=Reconciled` does (istio.io "Configuration Status Field"): istiod, with
 * PILOT_ENABLE_STATUS and PILOT_ENABLE_CONFIG_DISTRIBUTION_TRACKING, marks a VirtualService or
 * DestinationRule Reconciled at a generation once every proxy has acknowledged that push; the
 * cluster of `make cluster-up` marks it once the lab's Envoys have it (k8s/kube/data-plane.ts).
 * Without it a load that starts right after `make fault` may meet the old routes: a fix run of
 * timeout-budget once sent all its 27 requests before the lab's ingress had the 1 s route timeout.
 */

/** Istio's config status (meta/v1alpha1 IstioStatus). */
export interface IstioStatus {
  /** int64: a number, or a string as protobuf's JSON writes it. */
  observedGeneration?: number | string;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}

export interface StatusedObject {
  kind: string;
  metadata: { name: string; generation?: number };
  status?: IstioStatus;
}

const hasReconciled = (o: StatusedObject) => (o.status?.conditions ?? []).some((c) => c.type === 'Reconciled');

/** Whether the object's status says its current generation reached the proxies. */
export function isReconciled(object: StatusedObject): boolean {
  const status = object.status;
  return (
    status?.observedGeneration !== undefined &&
    Number(status.observedGeneration) === object.metadata.generation &&
    (status.conditions ?? []).some((c) => c.type === 'Reconciled' && c.status === 'True')
  );
}

/** The status written once the proxies have the object's current generation. */
export function reconciledStatus(object: StatusedObject, message: string): { status: IstioStatus } {
  return {
    status: {
      observedGeneration: object.metadata.generation ?? 0,
      conditions: [{ type: 'Reconciled', status: 'True', reason: 'Reconciled', message }],
    },
  };
}

/**
 * Polls the namespace's VirtualServices and DestinationRules until each is Reconciled at its
 * generation. A cluster that reports no Reconciled condition on any of them (status reporting
 * off) cannot say: the answer is then a note, and the load starts unconfirmed.
 */
export async function waitForMeshPush(
  list: () => Promise<StatusedObject[]>,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<{ confirmed: boolean; note: string }> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    const objects = await list();
    if (!objects.some(hasReconciled))
      return {
        confirmed: false,
        note: 'the cluster reports no Reconciled status on its VirtualServices or DestinationRules (Istio PILOT_ENABLE_STATUS off): the load starts without confirming the push',
      };
    const pending = objects.filter((o) => !isReconciled(o));
    if (pending.length === 0) return { confirmed: true, note: 'every VirtualService and DestinationRule Reconciled' };
    if (Date.now() > deadline)
      throw new Error(
        `the mesh change did not reach the proxies in ${(options.timeoutMs ?? 60_000) / 1000} s: ${pending.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')} not Reconciled at their generation`,
      );
    await pause(options.intervalMs ?? 250);
  }
}
