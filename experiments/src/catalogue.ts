import type { Experiment } from './definition.js';
import { uc503 } from './incidents/503-uc.js';
import { redisScanLatency } from './incidents/redis-scan-latency.js';
import { clientAbortLeak } from './incidents/client-abort-leak.js';
import { uploadOom } from './incidents/upload-oom.js';
import { circuitBreaker } from './incidents/circuit-breaker.js';
import { timeoutBudget } from './incidents/timeout-budget.js';

/** Every experiment, in the order `--list` shows and `make experiments` runs them. */
// biome-ignore lint/suspicious/noExplicitAny: each experiment has its own evidence type and signal keys, used invariantly by its reader, judge and report; the runner treats them alike.
export const catalogue: Experiment<any, any, any>[] = [
  uc503,
  redisScanLatency,
  clientAbortLeak,
  uploadOom,
  circuitBreaker,
  timeoutBudget,
];

export function findExperiment(name: string): Experiment<unknown> | undefined {
  return catalogue.find((e) => e.name === name);
}

/** App env for a lab the runner starts: what every experiment needs at startup, merged. */
export function labAppEnv(): Record<string, string> {
  return Object.assign({}, ...catalogue.map((e) => e.labAppEnv ?? {}));
}
