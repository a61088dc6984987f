import { readFile } from 'node:fs/promises';
import type { MeshDescription, ProxyName } from './description.js';
import { envoyStats } from './envoy-admin.js';
import type { Workloads } from './endpoints.js';
import type { ProxyFiles } from './envoy-config.js';
import { writeProxyXds } from './xds-files.js';

/**
 * Applying a changed MeshDescription to running Envoys: hot reload through file-based xDS, not
 * a restart. Istio pushes DestinationRule/VirtualService changes over xDS to live proxies, so
 * this keeps the same semantics experiments depend on: a route change (retries, fault) applies
 * to the next request on open connections, a cluster change (idle timeout, circuit breakers,
 * outlier detection) replaces the cluster and drains its old connections, and Envoy's stats
 * counters keep counting across the change (a restart would zero them and drop connections).
 */

export interface ProxyTarget {
  name: ProxyName;
  adminPort: number;
  files: ProxyFiles;
  /** Envoy's own log, quoted when an update is rejected. */
  log: string;
}

export interface ApplyResult {
  /** Per proxy, the subscriptions that changed (`lds`, `cds`, `rds:<listener>`). */
  changed: Record<string, string[]>;
}

function counterName(subscription: string, kind: 'update_success' | 'update_rejected'): string {
  if (subscription === 'lds') return `listener_manager.lds.${kind}`;
  if (subscription === 'cds') return `cluster_manager.cds.${kind}`;
  const listener = subscription.slice('rds:'.length);
  return `http.${listener}.rds.${listener}-routes.${kind}`;
}

async function counters(adminPort: number): Promise<Map<string, number>> {
  return envoyStats(adminPort, String.raw`\.update_(success|rejected)$`);
}

async function logTail(file: string, lines = 8): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Writes each proxy's new files and waits until Envoy has accepted every changed subscription
 * (its update_success counter moved); a rejected update throws with Envoy's reason.
 */
export async function applyToProxies(
  mesh: MeshDescription,
  proxies: ProxyTarget[],
  timeoutMs = 10_000,
  workloads?: Workloads,
): Promise<ApplyResult> {
  const result: ApplyResult = { changed: {} };
  await Promise.all(
    proxies.map(async (proxy) => {
      const before = await counters(proxy.adminPort);
      const { changed } = writeProxyXds(mesh, proxy.name, proxy.files, workloads);
      result.changed[proxy.name] = changed;
      if (changed.length === 0) return;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const now = await counters(proxy.adminPort);
        const rejected = changed.filter(
          (s) =>
            (now.get(counterName(s, 'update_rejected')) ?? 0) > (before.get(counterName(s, 'update_rejected')) ?? 0),
        );
        if (rejected.length > 0) {
          throw new Error(
            `${proxy.name} rejected ${rejected.join(', ')}; envoy log (${proxy.log}):\n${await logTail(proxy.log)}`,
          );
        }
        const pending = changed.filter(
          (s) =>
            (now.get(counterName(s, 'update_success')) ?? 0) <= (before.get(counterName(s, 'update_success')) ?? 0),
        );
        if (pending.length === 0) return;
        if (Date.now() > deadline)
          throw new Error(`${proxy.name} did not load ${pending.join(', ')} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }),
  );
  return result;
}
