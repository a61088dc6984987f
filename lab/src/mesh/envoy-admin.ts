/** Small clients for Envoy's admin API (envoyproxy.io/docs/envoy/latest/operations/admin). */

async function get(adminPort: number, pathAndQuery: string, timeoutMs = 2000): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${adminPort}${pathAndQuery}`, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  if (!res.ok) throw new Error(`envoy admin ${pathAndQuery} answered ${res.status}: ${text.slice(0, 200)}`);
  return text;
}

/** Counters and gauges whose names match `filter` (a regex Envoy applies), from GET /stats. */
export async function envoyStats(adminPort: number, filter: string): Promise<Map<string, number>> {
  const text = await get(adminPort, `/stats?filter=${encodeURIComponent(filter)}`);
  const stats = new Map<string, number>();
  for (const line of text.split('\n')) {
    const i = line.lastIndexOf(': ');
    if (i < 0) continue;
    const value = Number(line.slice(i + 2));
    if (Number.isFinite(value)) stats.set(line.slice(0, i), value);
  }
  return stats;
}

/** GET /config_dump as JSON (listeners, clusters, routes as the proxy holds them now). */
export async function envoyConfigDump(adminPort: number): Promise<unknown> {
  return JSON.parse(await get(adminPort, '/config_dump'));
}

export interface ClusterHost {
  port: number;
  /** Envoy would send it requests: EDS says healthy and no health flag (ejection, …) is set. */
  healthy: boolean;
}

interface ClustersJson {
  cluster_statuses?: {
    name: string;
    host_statuses?: {
      address?: { socket_address?: { port_value?: number } };
      health_status?: Record<string, unknown> & { eds_health_status?: string };
    }[];
  }[];
}

/** The hosts of one cluster as the proxy sees them now (GET /clusters?format=json). */
export async function envoyClusterHosts(adminPort: number, cluster: string): Promise<ClusterHost[]> {
  const body = JSON.parse(await get(adminPort, '/clusters?format=json')) as ClustersJson;
  const status = body.cluster_statuses?.find((c) => c.name === cluster);
  return (status?.host_statuses ?? []).map((h) => {
    const { eds_health_status: eds, ...flags } = h.health_status ?? {};
    return {
      port: h.address?.socket_address?.port_value ?? 0,
      healthy: (eds ?? 'HEALTHY') === 'HEALTHY' && !Object.values(flags).some((v) => v === true),
    };
  });
}
