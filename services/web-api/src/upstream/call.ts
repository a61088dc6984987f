import { setTimeout as sleep } from 'node:timers/promises';
import { callDeadline } from './deadline.js';
import { fromTransportError, timeoutError, type Operation, type Outcome, type Via } from './errors.js';
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
  /**
   * Absolute deadline of the whole call (epoch ms): web-api's own timeout or the caller's
   * deadline, whichever is sooner. gRPC sends it as `grpc-timeout`; HTTP as deadline.ts headers.
   */
  deadline: number;
  /** Aborts at the deadline with a TimeoutError (undici takes it as `signal`). */
  deadlineSignal: AbortSignal;
}

/** Starts timing one attempt; the returned function records it (upstream_request_duration_seconds). */
export type AttemptTimer = () => (labels: { via: Via; operation: Operation; outcome: Outcome }) => void;

export interface CallerOptions {
  timeoutMs: number;
  retries: number;
  /** A retry starts only when this much of the deadline is left after its backoff (retry.ts). */
  minTryMs: number;
  startTimer: AttemptTimer;
  random?: () => number;
}

/**
 * Runs one logical call to recipe-api: one deadline for all its attempts (as a gRPC deadline
 * spans retries) that never outlives the caller's (deadline.ts), retries per retry.ts, and one
 * observation per attempt, so a retried UNAVAILABLE shows up in the histogram next to the
 * success that followed it.
 */
export class UpstreamCaller {
  constructor(private readonly options: CallerOptions) {}

  /** `callerDeadline` (epoch ms): when the caller stops waiting, if it said (deadline.ts). */
  async call<T>(spec: CallSpec, attempt: (a: Attempt) => Promise<T>, callerDeadline?: number): Promise<T> {
    const { timeoutMs, retries, minTryMs, startTimer, random } = this.options;
    const now = Date.now();
    const deadline = callDeadline(now, timeoutMs, callerDeadline);
    // The caller has already given up: a call now would be work nobody waits for.
    if (deadline <= now) throw timeoutError(spec.via);
    const deadlineSignal = AbortSignal.timeout(deadline - now);
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
          minTryMs,
        });
        if (!retry) throw error;
        await sleep(delayMs);
      }
    }
  }
}
