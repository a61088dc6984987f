import type { Server } from 'node:http';
import type { z } from 'zod';
import { ConfigError, commonConfigShape, env } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { Health } from './health.js';
import { FaultRegistry, FaultValidationError, type AnySwitches } from './faults.js';
import { startAdminServer } from './admin-server.js';
import { listen, manageServer, setServerTimeouts, type ManagedServer } from './http-server.js';
import { installShutdown, type ShutdownStep } from './shutdown.js';
import { flushTelemetry } from './telemetry-handle.js';

/** Config keys every service has (the shared part of each service's schema). */
export const runtimeConfigShape = {
  ...commonConfigShape,
};
export const adminPortKey = (fallback: number) =>
  env
    .port(fallback)
    .describe('Admin listener: /metrics, /livez, /readyz, /startupz, /faults. Never routed by the ingress.');

/**
 * What createRuntime reads: any service config whose schema spreads runtimeConfigShape and has an
 * ADMIN_PORT, passed as it is (optional keys may be absent).
 */
export type RuntimeConfig = z.infer<z.ZodObject<typeof runtimeConfigShape>> & { ADMIN_PORT: number };

export interface Runtime<W extends AnySwitches = AnySwitches> {
  service: string;
  logger: Logger;
  metrics: Metrics;
  health: Health;
  faults: FaultRegistry<W>;
  admin: ManagedServer;
  /** Listen with the configured (and fault-adjustable) keep-alive timeouts; closed first on shutdown. */
  serveHttp(server: Server, port: number, name: string): Promise<ManagedServer>;
  /** A listener that is not node:http (gRPC): stopped with the HTTP listeners, before dependencies. */
  addListenerStop(name: string, stop: (timeoutMs: number) => Promise<void>): void;
  /** Dependencies (Redis…) closed after every listener has stopped. */
  addDependencyClose(name: string, close: () => Promise<void>): void;
  /** Registers SIGTERM/SIGINT handling. Call once everything is listening. */
  enableShutdown(): { shutdown: (signal: string) => Promise<void> };
}

/**
 * Shared start-up of both services: logger, metrics, health, faults and the admin port come up
 * first so that a failure later in start-up is still observable. `switches` are the service's own
 * incident switches, beside the platform's generic faults (faults.ts).
 */
export async function createRuntime<W extends AnySwitches>(
  service: string,
  config: RuntimeConfig,
  switches: W,
): Promise<Runtime<W>> {
  const logger = createLogger(service, config.LOG_LEVEL);
  const metrics = createMetrics(service);
  const health = new Health();
  const faults = new FaultRegistry(switches, metrics);
  if (config.FAULTS) {
    try {
      faults.set(JSON.parse(config.FAULTS));
    } catch (error) {
      const message = error instanceof FaultValidationError ? error.message : 'not valid JSON';
      throw new ConfigError([{ variable: 'FAULTS', message }]);
    }
  }
  faults.onChange((doc) => health.setForcedUnready(doc.unready === true));
  health.setForcedUnready(faults.get().unready === true);

  const admin = await startAdminServer({
    host: config.HOST,
    port: config.ADMIN_PORT,
    registry: metrics.registry,
    health,
    faults,
    logger,
    adminToken: config.ADMIN_TOKEN,
  });

  const listenerStops: ShutdownStep[] = [];
  const dependencyCloses: ShutdownStep[] = [];

  return {
    service,
    logger,
    metrics,
    health,
    faults,
    admin,
    async serveHttp(server, port, name) {
      const applyTimeouts = () => {
        const doc = faults.get();
        setServerTimeouts(
          server,
          doc.keepAliveTimeoutMs ?? config.KEEP_ALIVE_TIMEOUT_MS,
          doc.headersTimeoutMs ?? config.HEADERS_TIMEOUT_MS,
        );
      };
      applyTimeouts();
      faults.onChange(applyTimeouts);
      await listen(server, port, config.HOST, name);
      const managed = manageServer(server);
      listenerStops.push({ name: `close ${name} listener`, run: () => managed.close(config.SHUTDOWN_TIMEOUT_MS) });
      logger.info({ listener: name, port: managed.port }, 'listening');
      return managed;
    },
    addListenerStop(name, stop) {
      listenerStops.push({ name: `close ${name} listener`, run: () => stop(config.SHUTDOWN_TIMEOUT_MS) });
    },
    addDependencyClose(name, close) {
      dependencyCloses.push({ name: `close ${name}`, run: close });
    },
    enableShutdown() {
      return installShutdown({
        logger,
        health,
        graceful: () => faults.get().gracefulShutdown ?? config.SHUTDOWN_GRACEFUL,
        drainDelayMs: config.SHUTDOWN_DRAIN_DELAY_MS,
        steps: [
          // Listeners in parallel: each is bounded by SHUTDOWN_TIMEOUT_MS on its own.
          { name: 'stop listeners', run: async () => void (await Promise.all(listenerStops.map((s) => s.run()))) },
          ...dependencyCloses,
          { name: 'flush telemetry', run: flushTelemetry },
          { name: 'close admin listener', run: () => admin.close(1000) },
        ],
      });
    },
  };
}

/** For main.ts: print a config error naming each bad variable and exit 1, without a stack trace. */
export function exitOnStartupError(service: string, error: unknown): never {
  if (error instanceof ConfigError) {
    console.error(`${service}: ${error.message}`);
  } else {
    console.error(`${service}: failed to start: ${error instanceof Error ? error.message : String(error)}`);
  }
  process.exit(1);
}
