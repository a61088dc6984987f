import type { Preferences, RecipeView, UserView } from './recipe.js';

/**
 * What the domain needs from the data-access layer. Implementations throw
 * DependencyUnavailableError when their backing service (Redis) cannot answer, and the
 * domain decides whether that degrades the response or fails it.
 */
export class DependencyUnavailableError extends Error {
  constructor(
    readonly dependency: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DependencyUnavailableError';
  }
}

/** Cache-aside storage of rendered views, keyed by the viewer (`userKey`) and recipe id. */
export interface ViewCache {
  readonly enabled: boolean;
  get(userKey: string, recipeId: number): Promise<RecipeView | undefined>;
  set(userKey: string, recipeId: number, view: RecipeView): Promise<void>;
}

export type InvalidationStrategyName = 'index' | 'scan';

/** Drops every cached view of one user (after their preferences changed). */
export interface ViewInvalidator {
  invalidateUser(userKey: string): Promise<{ strategy: InvalidationStrategyName; removed: number }>;
}

/** Per-user favourites and preferences (the source of truth for them). */
export interface UserDataStore {
  viewOf(userId: string, recipeId: number): Promise<UserView>;
  replace(userId: string, preferences: Preferences): Promise<void>;
}
