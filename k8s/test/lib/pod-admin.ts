import { writeFileSync } from 'node:fs';
import { type ServiceName, serviceContract } from '@recipe-mesh/contracts/contracts';
import { startAdminServer } from '@recipe-mesh/platform/admin-server';
import { FaultRegistry, type FaultDocument } from '@recipe-mesh/platform/faults';
import { Health } from '@recipe-mesh/platform/health';
import { createLogger } from '@recipe-mesh/platform/logger';
import { createMetrics } from '@recipe-mesh/platform/metrics';
import { freePort } from '@recipe-mesh/measure/net';
import { startProcess } from '@recipe-mesh/measure/process';

/**
 * What kwok's pods answer on their admin port and in their sidecar log, for tests that reach
 * them the way `--target k8s` does (kubectl port-forward pod/…, kubectl logs pod/… -c istio-proxy):
 * the services' own admin server (services/platform admin-server.ts, with its fault registry) on
 * 127.0.0.1, and a file in the CRI log format that kwok's ClusterLogs serves (kwok refuses plain
 * lines: "unsupported log format").
 */
export interface PodAdmin {
  port: number;
  faults: FaultRegistry;
  /** Every fault document the server accepted, in order (one per PUT or DELETE). */
  changes: FaultDocument[];
  stop(): Promise<void>;
}

export async function startPodAdmin(service: ServiceName): Promise<PodAdmin> {
  const metrics = createMetrics(service);
  const faults = new FaultRegistry(serviceContract(service).faultSwitches, metrics);
  const changes: FaultDocument[] = [];
  faults.onChange((doc) => changes.push(doc));
  const health = new Health();
  health.markStarted();
  const server = await startAdminServer({
    host: '127.0.0.1',
    port: 0,
    registry: metrics.registry,
    health,
    faults,
    logger: createLogger(service, 'silent'),
  });
  return { port: server.port, faults, changes, stop: () => server.close(1000) };
}

/** Lines as a container runtime writes them (`<RFC3339Nano> stdout F <line>`), which kubectl logs strips. */
export function writeCriLog(file: string, lines: string[], at = new Date()): void {
  writeFileSync(file, lines.map((l) => `${at.toISOString()} stdout F ${l}\n`).join(''));
}

/**
 * A real Envoy whose admin stands for a sidecar's (Istio binds it to the pod's 127.0.0.1:15000),
 * with one static cluster named as Istio names web-api's cluster to recipe-api, so its
 * `upstream_rq_*` counters exist as they do in a sidecar that has that cluster.
 */
export async function startEnvoyAdmin(
  binary: string,
  clusterName: string,
): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const config = {
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: port } } },
    static_resources: {
      clusters: [
        {
          name: clusterName,
          type: 'STATIC',
          connect_timeout: '1s',
          load_assignment: {
            cluster_name: clusterName,
            endpoints: [
              {
                lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 9 } } } }],
              },
            ],
          },
        },
      ],
    },
  };
  const envoy = await startProcess({
    name: `envoy admin on ${port}`,
    command: binary,
    args: ['--config-yaml', JSON.stringify(config), '--base-id', String(port), '--log-level', 'warn'],
    ready: async () => (await fetch(`http://127.0.0.1:${port}/ready`).catch(() => null))?.ok,
    readyTimeoutMs: 30_000,
  });
  return { port, stop: () => envoy.stop() };
}
