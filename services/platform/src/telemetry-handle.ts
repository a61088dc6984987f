/**
 * The bridge between the telemetry bootstrap (loaded with `--import` before the app) and the app:
 * the bootstrap registers its flush here and the app calls it last in its shutdown; the app names
 * the ports whose requests are never traced (the admin port) and the bootstrap's HTTP
 * instrumentation asks. Global symbols, because the two may be loaded as distinct module
 * instances (the bootstrap through the package export, the app through relative imports).
 */
const shutdownKey = Symbol.for('recipe-mesh.telemetry.shutdown');
const untracedPortsKey = Symbol.for('recipe-mesh.telemetry.untraced-ports');
type Holder = { [shutdownKey]?: () => Promise<void>; [untracedPortsKey]?: Set<number> };
const holder = globalThis as Holder;

export function registerTelemetryShutdown(shutdown: () => Promise<void>): void {
  holder[shutdownKey] = shutdown;
}

export async function flushTelemetry(): Promise<void> {
  await holder[shutdownKey]?.();
}

/** Requests arriving on this local port get no server span (probes and scrapes are noise). */
export function markUntracedPort(port: number): void {
  (holder[untracedPortsKey] ??= new Set()).add(port);
}

export function isUntracedPort(port: number | undefined): boolean {
  return port !== undefined && (holder[untracedPortsKey]?.has(port) ?? false);
}
