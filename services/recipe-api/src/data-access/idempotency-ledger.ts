import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type IdempotencyLedger,
  keyInProgressError,
  keyReusedError,
  type LedgerOutcome,
} from '../domain/idempotency.js';
import { redisKeys } from './keys.js';
import { DependencyUnavailableError } from '../domain/ports.js';
import type { RedisConnection } from './redis-connection.js';

/** What one key holds: a claim while the first request creates, then its result for the TTL. */
type LedgerEntry<T> =
  | { state: 'pending'; fingerprint: string; claim: string }
  | { state: 'done'; fingerprint: string; result: T };

export interface RedisLedgerOptions<T> {
  ttlMs: number;
  /**
   * How long a claim lives without a result: longer than any create, so a slow create is never
   * run twice, and short enough that a key whose instance died mid-create frees itself.
   */
  claimLeaseMs?: number;
  /** How long a request waits for the first one's result with the same key before a 409 CONFLICT. */
  waitMs?: number;
  /**
   * The ledger to use while Redis cannot answer (this process' own): keyed creates keep working,
   * degraded, since a retry that reaches another instance is not recognised then.
   */
  whileRedisAway: IdempotencyLedger<T>;
}

/** Replaces the claim with `ARGV[2]` (PX `ARGV[3]`) only while the claim is still ours (or lapsed). */
const recordIfClaimed = `
local current = redis.call('GET', KEYS[1])
if current ~= false and current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;

/** Deletes the claim only while it is still ours: a lapsed claim may belong to another request now. */
const releaseIfClaimed = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

const firstPollMs = 5;
const maxPollMs = 100;

/**
 * The ledger every recipe-api instance shares through Redis, so a retry that Envoy sends to another
 * instance (the `previous_hosts` retry predicate; Istio sets it for every retry policy) is still
 * recognised. One `SET key claim PX lease NX GET` either claims the key (nil: it was free) or
 * returns what it holds, atomically (SET's NX+GET combination needs Redis ≥ 7.0, redis.io "SET").
 * A request that finds a claim with its fingerprint polls for the result until `waitMs`, then
 * answers 409 CONFLICT; a failed create deletes its claim, so a retry gets a fresh try.
 *
 * Only the result travels: the recipe itself stays in the store of the instance that created it.
 * Enough for the experiment, which counts creates per client request (every instance's
 * recipes_created_total and the store the run reads back); a real deployment shares the store too
 * (one database), otherwise a replayed id names a recipe only one instance can serve.
 *
 * While Redis cannot answer and nothing was created yet, the request goes to `whileRedisAway`
 * (this process' ledger) and its outcome says `degraded`: a failed dependency degrades the
 * guarantee to one instance, it does not fail the create. Once the create ran, its result is
 * answered even if Redis cannot record it: hiding a committed create behind an error would invite
 * the retry that duplicates it.
 */
export class RedisIdempotencyLedger<T> implements IdempotencyLedger<T> {
  private readonly ttlMs: number;
  private readonly claimLeaseMs: number;
  private readonly waitMs: number;
  private readonly whileRedisAway: IdempotencyLedger<T>;

  constructor(
    private readonly redis: RedisConnection,
    options: RedisLedgerOptions<T>,
  ) {
    this.ttlMs = options.ttlMs;
    this.claimLeaseMs = options.claimLeaseMs ?? 30_000;
    this.waitMs = options.waitMs ?? 2_000;
    this.whileRedisAway = options.whileRedisAway;
  }

  async run(key: string, requestFingerprint: string, create: () => Promise<T>): Promise<LedgerOutcome<T>> {
    const redisKey = redisKeys.idempotency(key);
    const claim = JSON.stringify({
      state: 'pending',
      fingerprint: requestFingerprint,
      claim: randomUUID(),
    } satisfies LedgerEntry<T>);
    let found: LedgerOutcome<T> | 'claimed';
    try {
      found = await this.claimOrRead(key, redisKey, claim, requestFingerprint);
    } catch (error) {
      if (!(error instanceof DependencyUnavailableError)) throw error;
      this.redis.logger.warn({ err: error }, 'idempotency ledger unreachable: this instance keeps its own');
      return { ...(await this.whileRedisAway.run(key, requestFingerprint, create)), degraded: true };
    }
    if (found !== 'claimed') return found;
    return { value: await this.createAndRecord(redisKey, claim, create), replayed: false };
  }

  /** Claims the key for this request, or answers from what another request with it recorded. */
  private async claimOrRead(
    key: string,
    redisKey: string,
    claim: string,
    requestFingerprint: string,
  ): Promise<LedgerOutcome<T> | 'claimed'> {
    const deadline = Date.now() + this.waitMs;
    for (let delay = firstPollMs; ; delay = Math.min(delay * 2, maxPollMs)) {
      const held = await this.redis.run('set', (r) => r.set(redisKey, claim, 'PX', this.claimLeaseMs, 'NX', 'GET'));
      if (held === null) return 'claimed';
      const entry = JSON.parse(held) as LedgerEntry<T>;
      if (entry.fingerprint !== requestFingerprint) throw keyReusedError(key);
      if (entry.state === 'done') return { value: entry.result, replayed: true };
      if (Date.now() + delay > deadline) throw keyInProgressError(key);
      await sleep(delay);
    }
  }

  private async createAndRecord(redisKey: string, claim: string, create: () => Promise<T>): Promise<T> {
    let value: T;
    try {
      value = await create();
    } catch (error) {
      // A failed create must not pin the key; if Redis cannot hear it, the lease frees it.
      await this.redis
        .run('eval', (r) => r.eval(releaseIfClaimed, 1, redisKey, claim))
        .catch((releaseError: unknown) =>
          this.redis.logger.warn({ err: releaseError }, 'idempotency claim not released: it lapses with its lease'),
        );
      throw error;
    }
    const { fingerprint } = JSON.parse(claim) as LedgerEntry<T>;
    const done = JSON.stringify({ state: 'done', fingerprint, result: value } satisfies LedgerEntry<T>);
    try {
      const recorded = await this.redis.run('eval', (r) =>
        r.eval(recordIfClaimed, 1, redisKey, claim, done, this.ttlMs),
      );
      if (recorded !== 1) this.redis.logger.warn('idempotency claim lapsed before the create finished');
    } catch (error) {
      this.redis.logger.warn(
        { err: error },
        'idempotency result not recorded: a retry after the lease may create again',
      );
    }
    return value;
  }
}
