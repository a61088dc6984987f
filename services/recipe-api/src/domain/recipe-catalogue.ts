import type { Logger } from 'pino';
import { AppError } from '@recipe-mesh/platform/errors';
import type { Metrics } from '@recipe-mesh/platform/metrics';
import { fingerprint, type IdempotencyLedger } from './idempotency.js';
import type { NewRecipe, Preferences, Recipe, RecipeView, UserView } from './recipe.js';
import type { ListQuery, Page, PhotoRecord, RecipeStore } from './recipe-store.js';
import { DependencyUnavailableError, type UserDataStore, type ViewCache, type ViewInvalidator } from './ports.js';

export type DegradedReason = 'redis_unavailable';

/** A result plus why it is less than complete, so entry points can mark their response and log line. */
export interface Served<T> {
  value: T;
  degraded?: DegradedReason;
}

/** The cache key owner for calls without `x-user-id`; user ids cannot start with `_`. */
export const anonymousViewer = '_anon';

export interface CatalogueDeps {
  store: RecipeStore;
  cache: ViewCache;
  invalidator: ViewInvalidator;
  userData: UserDataStore;
  metrics: Pick<Metrics, 'degradedResponses' | 'recipesCreated'>;
  logger: Logger;
  /** Shared by every instance when Redis is configured (data-access/create-data-access.ts). */
  ledger: IdempotencyLedger<Recipe>;
}

/**
 * The use cases every protocol shares (REST, GraphQL and gRPC call only this), so validation,
 * caching, idempotency and degradation behave the same whichever way a request arrives.
 */
export class RecipeCatalogue {
  private lastDegradedLog = 0;
  private suppressedDegradedLogs = 0;

  constructor(private readonly deps: CatalogueDeps) {}

  /**
   * Cache-aside: a cached view answers at once; a miss reads the store (slow) and the user's data,
   * then fills the cache. When Redis fails the store still answers: the response is marked
   * degraded (without the user's part, which lives in Redis) instead of failing.
   */
  async getRecipe(id: number, userId?: string): Promise<Served<RecipeView>> {
    const { store, cache, userData } = this.deps;
    const viewer = userId ?? anonymousViewer;
    let degraded = false;
    const tolerate = async <T>(work: () => Promise<T>): Promise<T | undefined> => {
      if (degraded) return undefined;
      try {
        return await work();
      } catch (error) {
        if (!(error instanceof DependencyUnavailableError)) throw error;
        degraded = true;
        return undefined;
      }
    };

    const cached = await tolerate(() => cache.get(viewer, id));
    if (cached) return { value: cached };

    const recipe = await store.get(id);
    if (!recipe) throw new AppError('NOT_FOUND', `recipe ${id} not found`);
    const userView: UserView | null = userId ? ((await tolerate(() => userData.viewOf(userId, id))) ?? null) : null;
    const view: RecipeView = { recipe, userView };
    await tolerate(() => cache.set(viewer, id, view));

    if (!degraded) return { value: view };
    this.noteDegraded('redis_unavailable', { recipe_id: id });
    return { value: view, degraded: 'redis_unavailable' };
  }

  listRecipes(query: ListQuery): Promise<Page> {
    return this.deps.store.list(query);
  }

  /**
   * Creates once per `idempotencyKey`; a replay returns the first result with `replayed: true`.
   * With the ledger's Redis away the ledger answers from this instance's memory, counted as a
   * degraded response: a retry that reaches another instance is then not recognised.
   */
  async createRecipe(input: NewRecipe, idempotencyKey?: string): Promise<{ recipe: Recipe; replayed: boolean }> {
    if (!idempotencyKey) return { recipe: await this.storeCreate(input), replayed: false };
    const { value, replayed, degraded } = await this.deps.ledger.run(idempotencyKey, fingerprint(input), () =>
      this.storeCreate(input),
    );
    if (degraded) this.noteDegraded('redis_unavailable', { idempotencyKey });
    return { recipe: value, replayed };
  }

  /** Every store write is counted, so duplicates are counted where they happen, not guessed at the caller. */
  private async storeCreate(input: NewRecipe): Promise<Recipe> {
    const recipe = await this.deps.store.create(input);
    this.deps.metrics.recipesCreated.inc();
    return recipe;
  }

  /**
   * Replaces the user's preferences, then drops their cached views so the next read shows them.
   * Preferences live only in Redis, so with Redis down this fails (503) rather than pretending.
   */
  async setPreferences(
    userId: string,
    preferences: Preferences,
  ): Promise<{ preferences: Preferences; invalidated: number; strategy: string }> {
    try {
      await this.deps.userData.replace(userId, preferences);
      const { removed, strategy } = await this.deps.invalidator.invalidateUser(userId);
      return { preferences, invalidated: removed, strategy };
    } catch (error) {
      if (error instanceof DependencyUnavailableError) {
        throw new AppError('UNAVAILABLE', 'preferences cannot be stored while Redis is unavailable', undefined, {
          cause: error,
        });
      }
      throw error;
    }
  }

  async savePhoto(photo: Omit<PhotoRecord, 'recipeId'>, recipeId: number): Promise<PhotoRecord> {
    const record = { ...photo, recipeId };
    await this.deps.store.savePhoto(record);
    return record;
  }

  /** 404 before an upload is read, so a client does not send megabytes to a missing recipe. */
  async requireRecipe(id: number): Promise<Recipe> {
    const recipe = await this.deps.store.get(id);
    if (!recipe) throw new AppError('NOT_FOUND', `recipe ${id} not found`);
    return recipe;
  }

  /** The whole catalogue page by page, for streaming exports (each page is one store call). */
  async *allRecipes(pageSize = 200, cuisine?: string, startAfterId = 0): AsyncGenerator<Recipe> {
    let afterId = startAfterId;
    for (;;) {
      const page = await this.deps.store.list({ cuisine, afterId, limit: pageSize });
      yield* page.items;
      const last = page.items.at(-1);
      if (!page.hasMore || !last) return;
      afterId = last.id;
    }
  }

  /** Counted per response; logged at most once a second so an outage does not flood the logs. */
  private noteDegraded(reason: DegradedReason, fields: Record<string, unknown>): void {
    this.deps.metrics.degradedResponses.inc({ reason });
    const now = Date.now();
    if (now - this.lastDegradedLog < 1000) {
      this.suppressedDegradedLogs++;
      return;
    }
    this.deps.logger.warn(
      { reason, ...fields, suppressed: this.suppressedDegradedLogs },
      'degraded response: serving from the store',
    );
    this.lastDegradedLog = now;
    this.suppressedDegradedLogs = 0;
  }
}
