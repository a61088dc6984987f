import type { Logger } from 'pino';
import type { Health } from './health.js';

export interface ShutdownStep {
  name: string;
  run: () => Promise<void>;
}

export interface ShutdownOptions {
  logger: Logger;
  health: Health;
  /** Read at signal time, so the `gracefulShutdown` fault can switch it live. */
  graceful: () => boolean;
  drainDelayMs: number;
  /** Steps in order: stop listeners (each bounded by its own timeout), close Redis, flush telemetry. */
  steps: ShutdownStep[];
  exit?: (code: number) => void;
}

/**
 * SIGTERM/SIGINT → readiness fails at once → drain delay (endpoints and the mesh stop sending us new
 * requests meanwhile) → stop accepting and finish in-flight work → close dependencies → flush
 * telemetry → exit 0. A second signal exits at once. The order follows podinfo's
 * pkg/signals/shutdown.go and Kubernetes' pod termination sequence (endpoints are removed
 * asynchronously, so the listener must keep accepting during the delay).
 */
export function installShutdown(options: ShutdownOptions): { shutdown: (signal: string) => Promise<void> } {
  const { logger, health, steps } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let started = false;

  const shutdown = async (signal: string) => {
    if (started) {
      logger.warn({ signal }, 'second signal: exiting now');
      exit(130);
      return;
    }
    started = true;
    health.markShuttingDown();
    if (!options.graceful()) {
      // What Node does with no handler: in-flight requests are cut (the rollout experiment).
      logger.warn({ signal }, 'graceful shutdown is off: exiting now');
      exit(143);
      return;
    }
    logger.info({ signal, drain_delay_ms: options.drainDelayMs }, 'shutting down: readiness failed, draining');
    await new Promise((r) => setTimeout(r, options.drainDelayMs));
    let code = 0;
    for (const step of steps) {
      try {
        await step.run();
        logger.info({ step: step.name }, 'shutdown step done');
      } catch (error) {
        code = 1;
        logger.error({ err: error, step: step.name }, 'shutdown step failed');
      }
    }
    logger.info({ code }, 'shutdown complete');
    exit(code);
  };

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => void shutdown(signal));
  }
  return { shutdown };
}
