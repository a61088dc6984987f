import { createHash } from 'node:crypto';
import { AppError } from '@recipe-mesh/platform/errors';

/** Stable fingerprint of a request body: keys sorted, so `{a,b}` and `{b,a}` are the same request. */
export function fingerprint(value: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.entries(v)
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([k, x]) => [k, canonical(x)]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify(canonical(value)))
    .digest('hex');
}

/** What `run` answers: the value, and whether it is a replay of an earlier request's result. */
export interface LedgerOutcome<T> {
  value: T;
  replayed: boolean;
  /** Answered by this process' own ledger because the shared one was unreachable. */
  degraded?: boolean;
}

/**
 * Remembers what each `Idempotency-Key` created, as Stripe's idempotent requests do: a replay with
 * the same body gets the original result, the same key with another body is an error (422, as the
 * IETF draft "The Idempotency-Key HTTP Header Field" suggests). Concurrent requests with one key
 * share the first one's result, so a retry racing the original still creates one recipe; a failed
 * create does not pin the key. Implementations: `InMemoryIdempotencyLedger` below (one process)
 * and `RedisIdempotencyLedger` (data-access/idempotency-ledger.ts, shared by every instance).
 */
export interface IdempotencyLedger<T> {
  run(key: string, requestFingerprint: string, create: () => Promise<T>): Promise<LedgerOutcome<T>>;
}

/** The same key with another body: the caller's mistake, whichever ledger noticed it. */
export const keyReusedError = (key: string) =>
  new AppError('UNPROCESSABLE', 'Idempotency-Key was already used with a different request body', {
    idempotencyKey: key,
  });

/** The first request with this key is still running after the wait: the caller may retry later. */
export const keyInProgressError = (key: string) =>
  new AppError('CONFLICT', 'a request with the same Idempotency-Key is in progress', { idempotencyKey: key });

interface Entry<T> {
  fingerprint: string;
  result: Promise<T>;
  expiresAt: number;
}

/**
 * The ledger of one process (REDIS_URL=none): concurrent requests with one key share the first
 * one's promise. In memory, next to the in-memory store it guards, so both survive or vanish
 * together; with several instances a retry landing on another one is not recognised, which is why
 * recipe-api uses the Redis ledger whenever Redis is configured.
 */
export class InMemoryIdempotencyLedger<T> implements IdempotencyLedger<T> {
  private readonly entries = new Map<string, Entry<T>>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  async run(key: string, requestFingerprint: string, create: () => Promise<T>): Promise<LedgerOutcome<T>> {
    const existing = this.entries.get(key);
    if (existing && existing.expiresAt > this.now()) {
      if (existing.fingerprint !== requestFingerprint) throw keyReusedError(key);
      return { value: await existing.result, replayed: true };
    }
    const result = create();
    this.entries.delete(key);
    this.entries.set(key, { fingerprint: requestFingerprint, result, expiresAt: this.now() + this.ttlMs });
    this.evict();
    try {
      return { value: await result, replayed: false };
    } catch (error) {
      // A failed attempt must not pin the key: the client's retry should get a fresh try.
      if (this.entries.get(key)?.result === result) this.entries.delete(key);
      throw error;
    }
  }

  size(): number {
    return this.entries.size;
  }

  /** Map iteration is insertion order, so the oldest entries go first. */
  private evict(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries && entry.expiresAt > now) break;
      this.entries.delete(key);
    }
  }
}
