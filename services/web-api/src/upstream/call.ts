import { setTimeout as sleep } from 'node:timers/promises';
import { fromTransportError, type Operation, type Outcome, type Via } from './errors.js';
import { backoffMs, shouldRetry } from './retry.js';

export interface CallSpec {
  via: Via;
  operation: Operation;
  /** May the request be sent twice? (see retry.ts) */
  idempotent: boolean;
}

export interface Attempt {
  /** 1 for the first attempt. */
  number: number;
  /** Absolute deadline of the whole call (epoch ms), for protocols with deadlines (gRPC). */
  deadline: number;
  /** Aborts at the deadline with a TimeoutError (undici takes it as `signal`). */
  deadlineSignal: AbortSignal;
}

/** Starts timing one attempt; the returned function records it (upstream_request_duration_seconds). */
export type AttemptTimer = () => (labels: { via: Via; operation: Operation; outcome: Outcome }) => void;

export interface CallerOptions {
  timeoutMs: number;
  retries: number;
  startTimer: AttemptTimer;
  random?: () => number;
}

/**
 * Runs one logical call to recipe-api: one deadline for all its attempts (as a gRPC deadline
 * spans retries), retries per retry.ts, and one observation per attempt, so a retried
 * UNAVAILABLE shows up in the histogram next to the success that followed it.
 */
export class UpstreamCaller {
  constructor(private readonly options: CallerOptions) {}

  async call<T>(spec: CallSpec, attempt: (a: Attempt) => Promise<T>): Promise<T> {
    const { timeoutMs, retries, startTimer, random } = this.options;
    const deadline = Date.now() + timeoutMs;
    const deadlineSignal = AbortSignal.timeout(timeoutMs);
    for (let number = 1; ; number++) {
      const done = startTimer();
      try {
        const result = await attempt({ number, deadline, deadlineSignal });
        done({ via: spec.via, operation: spec.operation, outcome: 'success' });
        return result;
      } catch (thrown) {
        const error = fromTransportError(thrown, spec.via);
        done({ via: spec.via, operation: spec.operation, outcome: error.outcome });
        const delayMs = backoffMs(number, random);
        const retry = shouldRetry({
          error,
          attempts: number,
          retries,
          idempotent: spec.idempotent,
          remainingMs: deadline - Date.now(),
          delayMs,
        });
        if (!retry) throw error;
        await sleep(delayMs);
      }
    }
  }
}
