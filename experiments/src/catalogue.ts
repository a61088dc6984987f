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
 * Replicas for a lab the runner starts: the manifests' (an empty object) unless `--replicas n`
 * asks for n instances of each service (fewer for speed; the lab and every report say so). A run
 * that needs more instances than the lab has adds them (Experiment.labInstances).
 */
export function labReplicas(each?: number): Partial<Record<ServiceName, number>> {
  return each === undefined ? {} : { 'web-api': each, 'recipe-api': each };
}
