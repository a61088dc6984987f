import type { Experiment, ServiceName } from './definition.js';
import { uc503 } from './incidents/503-uc.js';
import { redisScanLatency } from './incidents/redis-scan-latency.js';
import { clientAbortLeak } from './incidents/client-abort-leak.js';
import { uploadOom } from './incidents/upload-oom.js';
import { circuitBreaker } from './incidents/circuit-breaker.js';
import { noHealthyUpstream } from './incidents/no-healthy-upstream.js';
import { rollout503 } from './incidents/rollout-503.js';
import { postRetryDuplicates } from './incidents/post-retry-duplicates.js';
import { eventLoopBlock } from './incidents/event-loop-block.js';
import { timeoutBudget } from './incidents/timeout-budget.js';

/** Every experiment, in the order `--list` shows and `make experiments` runs them. */
// biome-ignore lint/suspicious/noExplicitAny: each experiment has its own evidence type and signal keys, used invariantly by its reader, judge and report; the runner treats them alike.
export const catalogue: Experiment<any, any, any>[] = [
  uc503,
  redisScanLatency,
  clientAbortLeak,
  uploadOom,
  circuitBreaker,
  noHealthyUpstream,
  rollout503,
  postRetryDuplicates,
  eventLoopBlock,
  timeoutBudget,
];

export function findExperiment(name: string): Experiment<unknown> | undefined {
  return catalogue.find((e) => e.name === name);
}

/** App env for a lab the runner starts: what every experiment needs at startup, merged. */
export function labAppEnv(): Record<string, string> {
  return Object.assign({}, ...catalogue.map((e) => e.labAppEnv ?? {}));
}

/**
 * Replicas for a lab the runner starts: each service some experiment runs several instances of
 * gets readiness-driven membership with one instance, like `make up`; runs add the rest.
 */
export function labReplicas(): Partial<Record<ServiceName, number>> {
  return Object.fromEntries(catalogue.flatMap((e) => Object.keys(e.labInstances ?? {})).map((s) => [s, 1]));
}
