import type { Metrics } from '@recipe-mesh/platform/metrics';
import type { RecipeView } from '../domain/recipe.js';
import type { ViewCache } from '../domain/ports.js';
import { redisKeys } from './keys.js';
import { execResults, type RedisConnection } from './redis-connection.js';

/**
 * Cache-aside views in Redis with a TTL. Every fill also records the key in the viewer's index SET
 * whatever the invalidation strategy, so switching strategy live (the `invalidationStrategy` fault)
 * never leaves views the `index` strategy cannot find.
 */
export class RedisViewCache implements ViewCache {
  readonly enabled = true;

  constructor(
    private readonly redis: RedisConnection,
    private readonly ttlSeconds: number,
    private readonly metrics: Pick<Metrics, 'cacheLookups'>,
  ) {}

  async get(viewer: string, recipeId: number): Promise<RecipeView | undefined> {
    let raw: string | null;
    try {
      raw = await this.redis.run('get', (r) => r.get(redisKeys.view(viewer, recipeId)));
    } catch (error) {
      this.metrics.cacheLookups.inc({ result: 'error' });
      throw error;
    }
    this.metrics.cacheLookups.inc({ result: raw === null ? 'miss' : 'hit' });
    return raw === null ? undefined : (JSON.parse(raw) as RecipeView);
  }

  async set(viewer: string, recipeId: number, view: RecipeView): Promise<void> {
    const key = redisKeys.view(viewer, recipeId);
    const index = redisKeys.viewIndex(viewer);
    await this.redis.run('multi', async (r) =>
      execResults(
        await r
          .multi()
          .set(key, JSON.stringify(view), 'EX', this.ttlSeconds)
          .sadd(index, key)
          // The index outlives none of its members by more than one TTL.
          .expire(index, this.ttlSeconds)
          .exec(),
      ),
    );
  }
}

/** REDIS_URL=none: every lookup misses without counting, and nothing is stored. */
export class DisabledViewCache implements ViewCache {
  readonly enabled = false;
  async get(): Promise<undefined> {
    return undefined;
  }
  async set(): Promise<void> {}
}
