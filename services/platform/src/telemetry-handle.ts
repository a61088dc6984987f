/**
 * The bridge between the telemetry bootstrap (loaded with `--import` before the app) and the app's
 * shutdown: the bootstrap registers its flush here; the app calls it last. A global symbol,
 * because the two may be loaded as distinct module instances.
 */
const key = Symbol.for('recipe-mesh.telemetry.shutdown');
type Holder = { [key]?: () => Promise<void> };

export function registerTelemetryShutdown(shutdown: () => Promise<void>): void {
  (globalThis as Holder)[key] = shutdown;
}

export async function flushTelemetry(): Promise<void> {
  await (globalThis as Holder)[key]?.();
}
