import { UpstreamError } from './errors.js';

/**
 * When web-api tries a failed call to recipe-api again. One policy for the three protocols, so
 * "what is safe to repeat" is decided in one place:
 * - only idempotent calls (GET, the export start, PUT preferences, and a POST that carries an
 *   Idempotency-Key, which recipe-api deduplicates) — a POST without one could create twice;
 * - only failures where the request cannot have done anything, or recipe-api said so: no
 *   connection, a 503, gRPC UNAVAILABLE (the same set Istio's outbound defaults retry:
 *   connect-failure, refused-stream, unavailable, and 503 before 1.24) — never a timeout, which
 *   would multiply the load on a dependency that is already slow;
 * - at most `retries` extra attempts, and only while the call's deadline (the caller's, when it
 *   said) leaves room for the backoff and a try of at least `minTryMs`: a try that cannot finish
 *   before the caller gives up only adds load (docs/experiments.md, "timeout-budget").
 */
export interface RetryInput {
  error: unknown;
  /** Attempts already made (1 after the first failure). */
  attempts: number;
  retries: number;
  idempotent: boolean;
  /** Time left before the call's deadline, and the backoff that would be waited first. */
  remainingMs: number;
  delayMs: number;
  /** The shortest try worth starting. */
  minTryMs: number;
}

export function shouldRetry({
  error,
  attempts,
  retries,
  idempotent,
  remainingMs,
  delayMs,
  minTryMs,
}: RetryInput): boolean {
  return (
    idempotent &&
    error instanceof UpstreamError &&
    error.retryable &&
    attempts <= retries &&
    remainingMs >= delayMs + Math.max(1, minTryMs)
  );
}

/** Small exponential backoff with jitter: ~25, 50, 100 ms…, capped at 200 ms. */
export function backoffMs(attempts: number, random: () => number = Math.random): number {
  const base = Math.min(25 * 2 ** Math.max(0, attempts - 1), 200);
  // "Equal jitter": half fixed, half random, so retries of many callers do not line up.
  return Math.round(base / 2 + (random() * base) / 2);
}
