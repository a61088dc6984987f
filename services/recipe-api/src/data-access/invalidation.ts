import { startDurationTimer, type Metrics } from '@recipe-mesh/platform/metrics';
import type { InvalidationStrategyName, ViewInvalidator } from '../domain/ports.js';
import { redisKeys } from './keys.js';
import type { RedisConnection } from './redis-connection.js';

export interface InvalidationStrategy {
  readonly name: InvalidationStrategyName;
  /** Removes the viewer's cached views; returns how many keys were removed. */
  invalidate(viewer: string): Promise<number>;
}

/**
 * `index`: the keys are listed in a per-user SET, so invalidation costs one SMEMBERS and one
 * UNLINK (non-blocking delete) proportional to that user's views, whatever the keyspace size.
 */
export class IndexInvalidation implements InvalidationStrategy {
  readonly name = 'index';
  constructor(private readonly redis: RedisConnection) {}

  async invalidate(viewer: string): Promise<number> {
    const index = redisKeys.viewIndex(viewer);
    const keys = await this.redis.run('smembers', (r) => r.smembers(index));
    await this.redis.run('unlink', (r) => r.unlink(index, ...keys));
    return keys.length;
  }
}

/**
 * `scan`: SCAN MATCH over the whole keyspace. Kept on purpose: each SCAN call walks COUNT slots of
 * the keyspace on Redis' single thread, so with many keys it delays every other client (p99 GET
 * 0.28 ms → 7.5 ms measured, docs/architecture.md "Measured facts"), the incident the scan experiment reproduces.
 */
export class ScanInvalidation implements InvalidationStrategy {
  readonly name = 'scan';
  constructor(
    private readonly redis: RedisConnection,
    private readonly count: number,
  ) {}

  async invalidate(viewer: string): Promise<number> {
    const pattern = redisKeys.viewPattern(viewer);
    let cursor = '0';
    let removed = 0;
    do {
      const [next, keys] = await this.redis.run('scan', (r) => r.scan(cursor, 'MATCH', pattern, 'COUNT', this.count));
      if (keys.length > 0) removed += await this.redis.run('unlink', (r) => r.unlink(...keys));
      cursor = next;
    } while (cursor !== '0');
    await this.redis.run('unlink', (r) => r.unlink(redisKeys.viewIndex(viewer)));
    return removed;
  }
}

/**
 * Picks the strategy per call, so the `invalidationStrategy` fault switches it live, and times each
 * invalidation into cache_invalidation_duration_seconds{strategy}.
 */
export class SwitchableInvalidator implements ViewInvalidator {
  constructor(
    private readonly strategies: Record<InvalidationStrategyName, InvalidationStrategy>,
    private readonly choose: () => InvalidationStrategyName,
    private readonly metrics: Pick<Metrics, 'cacheInvalidationDuration'>,
  ) {}

  async invalidateUser(viewer: string): Promise<{ strategy: InvalidationStrategyName; removed: number }> {
    const strategy = this.strategies[this.choose()];
    const stop = startDurationTimer(this.metrics.cacheInvalidationDuration);
    try {
      return { strategy: strategy.name, removed: await strategy.invalidate(viewer) };
    } finally {
      stop({ strategy: strategy.name });
    }
  }
}

/** REDIS_URL=none: nothing is cached, so nothing to drop. */
export class NoopInvalidator implements ViewInvalidator {
  constructor(private readonly choose: () => InvalidationStrategyName) {}
  async invalidateUser(): Promise<{ strategy: InvalidationStrategyName; removed: number }> {
    return { strategy: this.choose(), removed: 0 };
  }
}
