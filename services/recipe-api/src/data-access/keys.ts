/**
 * Redis key names in one place. Views are `view:<viewer>:<recipeId>` so that the `scan` strategy can
 * MATCH `view:<viewer>:*`; the per-user index lives outside that pattern. Viewer ids never contain
 * `:` or glob characters (userIdSchema), so patterns need no escaping.
 */
export const redisKeys = {
  view: (viewer: string, recipeId: number) => `view:${viewer}:${recipeId}`,
  viewPattern: (viewer: string) => `view:${viewer}:*`,
  viewIndex: (viewer: string) => `view-index:${viewer}`,
  preferences: (userId: string) => `user:${userId}:prefs`,
  favourites: (userId: string) => `user:${userId}:favourites`,
  /** An Idempotency-Key's claim or result, shared by every instance (data-access/idempotency-ledger.ts). */
  idempotency: (key: string) => `idempotency:${key}`,
};
