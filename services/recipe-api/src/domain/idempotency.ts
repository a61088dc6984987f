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

interface Entry<T> {
  fingerprint: string;
  result: Promise<T>;
  expiresAt: number;
}

/**
 * Remembers what each `Idempotency-Key` created, as Stripe's idempotent requests do: a replay with
 * the same body gets the original result, the same key with another body is an error (422, as the
 * IETF draft "The Idempotency-Key HTTP Header Field" suggests). Concurrent requests with one key
 * share the first one's promise, so a retry racing the original still creates one recipe.
 * In memory, next to the in-memory store it guards, so both survive or vanish together.
 */
export class IdempotencyLedger<T> {
  private readonly entries = new Map<string, Entry<T>>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  async run(
    key: string,
    requestFingerprint: string,
    create: () => Promise<T>,
  ): Promise<{ value: T; replayed: boolean }> {
    const existing = this.entries.get(key);
    if (existing && existing.expiresAt > this.now()) {
      if (existing.fingerprint !== requestFingerprint) {
        throw new AppError('UNPROCESSABLE', 'Idempotency-Key was already used with a different request body', {
          idempotencyKey: key,
        });
      }
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
