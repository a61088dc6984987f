import { pino } from 'pino';
import { createMetrics } from '@recipe-mesh/platform/metrics';
import { FaultRegistry } from '@recipe-mesh/platform/faults';
import { recipeApiSwitches } from '../src/faults.js';
import { InMemoryRecipeStore } from '../src/domain/recipe-store.js';
import { RecipeCatalogue } from '../src/domain/recipe-catalogue.js';
import { DisabledViewCache } from '../src/data-access/view-cache.js';
import { NoopInvalidator } from '../src/data-access/invalidation.js';
import { InMemoryUserData } from '../src/data-access/user-data.js';
import { type IdempotencyLedger, InMemoryIdempotencyLedger } from '../src/domain/idempotency.js';
import type { Recipe } from '../src/domain/recipe.js';
import { parseScrape, sumOf } from '@recipe-mesh/measure/metric-text';

export const silentLogger = pino({ level: 'silent' });

/**
 * A catalogue without Redis (REDIS_URL=none wiring), for tests of the entry points; `ledger`
 * swaps in another idempotency ledger (the Redis one) around the same in-memory store.
 */
export function memoryCatalogue(
  options: { seedCount?: number; latencyMs?: number; ledger?: IdempotencyLedger<Recipe> } = {},
) {
  const metrics = createMetrics('recipe-api');
  const faults = new FaultRegistry(recipeApiSwitches, metrics);
  const store = new InMemoryRecipeStore({ seedCount: options.seedCount ?? 500, latencyMs: options.latencyMs ?? 0 });
  const catalogue = new RecipeCatalogue({
    store,
    cache: new DisabledViewCache(),
    invalidator: new NoopInvalidator(() => 'index'),
    userData: new InMemoryUserData(),
    metrics,
    logger: silentLogger,
    ledger: options.ledger ?? new InMemoryIdempotencyLedger<Recipe>(60_000),
  });
  return { metrics, faults, store, catalogue };
}

/**
 * Sum of the samples of `name` whose labels include `labels`. Reads the whole exposition, and accepts
 * `<name>_total` too: prom-client appends `_total` to counters in OpenMetrics output.
 */
/** Sum of `name` (or `${name}_total`) over samples whose labels include `labels`, read by the one metric-text reader. */
export async function metricValue(
  metrics: { registry: { metrics(): Promise<string> } },
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const scrape = parseScrape(await metrics.registry.metrics());
  return (sumOf(scrape, name, labels) ?? 0) + (sumOf(scrape, `${name}_total`, labels) ?? 0);
}

export const validRecipe = {
  name: 'Dal Tadka',
  cuisine: 'indian',
  steps: ['Boil the lentils.', 'Temper the spices in ghee.'],
  ingredients: [{ name: 'lentils', quantity: 200, unit: 'g' }],
  ownerId: 'chef-7',
  servings: 2,
};
