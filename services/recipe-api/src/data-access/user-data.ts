import type { Preferences, UserView } from '../domain/recipe.js';
import type { UserDataStore } from '../domain/ports.js';
import { redisKeys } from './keys.js';
import { execResults, type RedisConnection } from './redis-connection.js';

/** Favourites as a SET (SISMEMBER per view), preferences as a HASH; no TTL: Redis is their home. */
export class RedisUserData implements UserDataStore {
  constructor(private readonly redis: RedisConnection) {}

  async viewOf(userId: string, recipeId: number): Promise<UserView> {
    const [servings, favourite] = await this.redis.run('multi', async (r) =>
      execResults(
        await r
          .multi()
          .hget(redisKeys.preferences(userId), 'preferredServings')
          .sismember(redisKeys.favourites(userId), String(recipeId))
          .exec(),
      ),
    );
    return { favourite: favourite === 1, preferredServings: servings ? Number(servings) : null };
  }

  /** One MULTI, so a reader never sees the favourites of the old preferences mixed with the new. */
  async replace(userId: string, preferences: Preferences): Promise<void> {
    const favourites = redisKeys.favourites(userId);
    const prefs = redisKeys.preferences(userId);
    await this.redis.run('multi', async (r) => {
      const tx = r.multi().del(favourites, prefs);
      if (preferences.favourites.length > 0) tx.sadd(favourites, ...preferences.favourites.map(String));
      if (preferences.preferredServings !== null)
        tx.hset(prefs, 'preferredServings', String(preferences.preferredServings));
      return execResults(await tx.exec());
    });
  }
}

/** REDIS_URL=none: user data kept in this process (lost on restart; fine for `make run` without Redis). */
export class InMemoryUserData implements UserDataStore {
  private readonly users = new Map<string, { favourites: Set<number>; preferredServings: number | null }>();

  async viewOf(userId: string, recipeId: number): Promise<UserView> {
    const user = this.users.get(userId);
    return { favourite: user?.favourites.has(recipeId) ?? false, preferredServings: user?.preferredServings ?? null };
  }

  async replace(userId: string, preferences: Preferences): Promise<void> {
    this.users.set(userId, {
      favourites: new Set(preferences.favourites),
      preferredServings: preferences.preferredServings,
    });
  }
}
