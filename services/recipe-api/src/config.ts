import { z } from 'zod';
import { env, loadConfig } from '@recipe-mesh/platform/config';
import { adminPortKey, runtimeConfigShape } from '@recipe-mesh/platform/runtime';

/** `none` or a redis:// URL (docs/contracts.md: `none` disables the cache). */
const redisUrl = z
  .string()
  .default('redis://127.0.0.1:6379')
  .refine((v) => v === 'none' || /^rediss?:\/\/.+/.test(v), { message: 'must be `none` or a redis:// URL' });

/** Every key recipe-api reads, with defaults and the doc line README's configuration table shows. */
export const recipeApiConfigSchema = z.object({
  PORT: env.port(4000).describe('HTTP listener: REST and `/graphql`.'),
  GRPC_PORT: env.port(4001).describe('gRPC listener (h2c): `recipes.v1.RecipeService` and `grpc.health.v1.Health`.'),
  ADMIN_PORT: adminPortKey(9465),
  ...runtimeConfigShape,
  REDIS_URL: redisUrl.describe(
    'Redis for cached views and user data; `none` disables the cache (user data then lives in memory).',
  ),
  REDIS_COMMAND_TIMEOUT_MS: env
    .int(500, 1)
    .describe('Per-command timeout: a hung Redis degrades a request instead of stalling it.'),
  REDIS_CONNECT_TIMEOUT_MS: env.int(1000, 1).describe('Timeout of one connection attempt to Redis.'),
  REDIS_RECONNECT_MAX_DELAY_MS: env
    .int(1000, 10)
    .describe('Upper bound of the backoff between reconnection attempts (attempts never stop).'),
  STORE_SEED_COUNT: env
    .int(10000, 42)
    .describe('Recipes seeded deterministically at startup (recipe 42 is "Chicken Tikka Masala").'),
  STORE_LATENCY_MS: env.int(3).describe('Simulated database latency per store call, so that the cache matters.'),
  CACHE_TTL_SECONDS: env.int(300, 1).describe('TTL of cached per-user recipe views (and of their per-user index).'),
  INVALIDATION_STRATEGY: z
    .enum(['index', 'scan'])
    .default('index')
    .describe(
      "How a user's cached views are dropped: `index` (per-user SET) or `scan` (SCAN MATCH; the latency experiment). The `invalidationStrategy` fault overrides it live.",
    ),
  SCAN_COUNT: env
    .int(10000, 1)
    .describe(
      'COUNT hint of each SCAN call of the `scan` strategy (large COUNTs are what make each SCAN block Redis for milliseconds in "Debugging Redis Latency").',
    ),
  UPLOAD_MAX_BYTES: env
    .int(5242880, 1)
    .describe(
      'Largest photo accepted by `POST /recipes/:id/photo` (413 above it) unless the `uploadLimits:false` fault is on.',
    ),
  GRAPHQL_MAX_DEPTH: env.int(6, 1).describe('Deepest GraphQL selection accepted.'),
  GRAPHQL_MAX_COST: env.int(5000, 1).describe('Highest GraphQL query cost accepted (graphql-armor cost-limit).'),
  IDEMPOTENCY_TTL_SECONDS: env.int(86400, 1).describe('How long an `Idempotency-Key` is remembered.'),
});

export type RecipeApiConfig = z.infer<typeof recipeApiConfigSchema>;

export function loadRecipeApiConfig(source: Record<string, string | undefined> = process.env): RecipeApiConfig {
  return loadConfig(recipeApiConfigSchema, source);
}
