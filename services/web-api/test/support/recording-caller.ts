import { UpstreamCaller } from '../../src/upstream/call.js';
import type { Outcome } from '../../src/upstream/errors.js';

/** An UpstreamCaller without jitter that records the outcome of every attempt. */
export function recordingCaller(retries: number, timeoutMs = 1000, minTryMs = 1) {
  const observed: Outcome[] = [];
  const caller = new UpstreamCaller({
    timeoutMs,
    retries,
    minTryMs,
    startTimer: () => (labels) => observed.push(labels.outcome),
    random: () => 0,
  });
  return { caller, observed };
}
