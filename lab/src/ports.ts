import net from 'node:net';

/**
 * Every port the lab binds, by name, with the defaults of docs/contracts.md.
 * Sidecar ports echo Istio's (15006 is the sidecar's virtualInbound listener, 15001 its
 * virtualOutbound), but each gets its own number because without iptables redirection every
 * listener needs a port of its own on one host.
 */
export interface LabPorts {
  webApi: number;
  webApiAdmin: number;
  recipeApi: number;
  recipeApiGrpc: number;
  recipeApiAdmin: number;
  ingress: number;
  ingressAdmin: number;
  webApiSidecarInbound: number;
  webApiSidecarOutboundHttp: number;
  webApiSidecarOutboundGrpc: number;
  webApiSidecarAdmin: number;
  recipeApiSidecarInboundHttp: number;
  recipeApiSidecarInboundGrpc: number;
  recipeApiSidecarAdmin: number;
  redis: number;
  prometheus: number;
  traceSink: number;
}

export const defaultPorts: LabPorts = {
  webApi: 3000,
  webApiAdmin: 9464,
  recipeApi: 4000,
  recipeApiGrpc: 4001,
  recipeApiAdmin: 9465,
  ingress: 8080,
  ingressAdmin: 15000,
  webApiSidecarInbound: 15006,
  webApiSidecarOutboundHttp: 15001,
  webApiSidecarOutboundGrpc: 15002,
  webApiSidecarAdmin: 15010,
  recipeApiSidecarInboundHttp: 15106,
  recipeApiSidecarInboundGrpc: 15107,
  recipeApiSidecarAdmin: 15110,
  redis: 6379,
  prometheus: 9090,
  traceSink: 4318, // the OTLP/HTTP default port
};

/** Env variable that overrides one port, e.g. LAB_PORT_INGRESS=18080 for `ingress`. */
export function portEnvName(key: keyof LabPorts): string {
  return `LAB_PORT_${key.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}`;
}

export function portsFromEnv(env: Record<string, string | undefined> = process.env): Partial<LabPorts> {
  const out: Partial<LabPorts> = {};
  for (const key of Object.keys(defaultPorts) as (keyof LabPorts)[]) {
    const raw = env[portEnvName(key)];
    if (raw === undefined || raw === '') continue;
    const port = Number(raw);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new Error(`${portEnvName(key)}=${raw} is not a port number`);
    }
    out[key] = port;
  }
  return out;
}

/** Resolves after trying to bind the port on loopback: true when nobody holds it. */
export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export class PortsTakenError extends Error {
  constructor(readonly taken: { name: string; port: number }[]) {
    super(
      taken
        .map(
          ({ name, port }) =>
            `port ${port} (${name}) is already in use; stop what holds it or set ${portEnvName(name as keyof LabPorts)}`,
        )
        .join('\n'),
    );
    this.name = 'PortsTakenError';
  }
}

/** Throws PortsTakenError naming every taken port, so a person fixes them all at once. */
export async function assertPortsFree(ports: { name: string; port: number }[]): Promise<void> {
  const results = await Promise.all(ports.map(async (p) => ({ ...p, free: await portIsFree(p.port) })));
  const taken = results.filter((r) => !r.free).map(({ name, port }) => ({ name, port }));
  if (taken.length > 0) throw new PortsTakenError(taken);
}
