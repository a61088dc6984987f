import type { Logger } from 'pino';
import type { Metrics } from '@recipe-mesh/platform/metrics';
import type { InvalidationStrategyName, UserDataStore, ViewCache, ViewInvalidator } from '../domain/ports.js';
import { type IdempotencyLedger, InMemoryIdempotencyLedger } from '../domain/idempotency.js';
import type { Recipe } from '../domain/recipe.js';
import { RedisIdempotencyLedger } from './idempotency-ledger.js';
import { IndexInvalidation, NoopInvalidator, ScanInvalidation, SwitchableInvalidator } from './invalidation.js';
import { RedisConnection } from './redis-connection.js';
import { InMemoryUserData, RedisUserData } from './user-data.js';
import { DisabledViewCache, RedisViewCache } from './view-cache.js';

export interface DataAccessConfig {
  REDIS_URL: string;
  REDIS_COMMAND_TIMEOUT_MS: number;
  REDIS_CONNECT_TIMEOUT_MS: number;
  REDIS_RECONNECT_MAX_DELAY_MS: number;
  CACHE_TTL_SECONDS: number;
  SCAN_COUNT: number;
  IDEMPOTENCY_TTL_SECONDS: number;
}

export interface DataAccess {
  cache: ViewCache;
  invalidator: ViewInvalidator;
  userData: UserDataStore;
  /** In Redis, so every instance recognises a retry another one answered; in memory without Redis. */
  ledger: IdempotencyLedger<Recipe>;
  /** Undefined when REDIS_URL=none. */
  redis?: RedisConnection;
}

/** Redis-backed adapters, or (REDIS_URL=none) no cache, in-process user data and idempotency ledger. */
export function createDataAccess(
  config: DataAccessConfig,
  strategy: () => InvalidationStrategyName,
  metrics: Metrics,
  logger: Logger,
): DataAccess {
  const ttlMs = config.IDEMPOTENCY_TTL_SECONDS * 1000;
  if (config.REDIS_URL === 'none') {
    logger.info('REDIS_URL=none: cache disabled, user data kept in memory');
    return {
      cache: new DisabledViewCache(),
      invalidator: new NoopInvalidator(strategy),
      userData: new InMemoryUserData(),
      ledger: new InMemoryIdempotencyLedger<Recipe>(ttlMs),
    };
  }
  const redis = new RedisConnection(
    {
      url: config.REDIS_URL,
      commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
      connectTimeoutMs: config.REDIS_CONNECT_TIMEOUT_MS,
      reconnectMaxDelayMs: config.REDIS_RECONNECT_MAX_DELAY_MS,
    },
    metrics,
    logger,
  );
  return {
    redis,
    cache: new RedisViewCache(redis, config.CACHE_TTL_SECONDS, metrics),
    invalidator: new SwitchableInvalidator(
      { index: new IndexInvalidation(redis), scan: new ScanInvalidation(redis, config.SCAN_COUNT) },
      strategy,
      metrics,
    ),
    userData: new RedisUserData(redis),
    ledger: new RedisIdempotencyLedger<Recipe>(redis, {
      ttlMs,
      whileRedisAway: new InMemoryIdempotencyLedger<Recipe>(ttlMs),
    }),
  };
}
