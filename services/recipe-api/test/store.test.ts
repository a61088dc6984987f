import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InMemoryRecipeStore } from '../src/domain/recipe-store.js';
import { seedRecipe, seedRecipes } from '../src/domain/seed.js';
import { cursorPattern, decodeCursor, encodeCursor } from '../src/domain/cursor.js';
import { AppError } from '@recipe-mesh/platform/errors';

test('seeding is deterministic and recipe 42 is Chicken Tikka Masala', async () => {
  assert.deepEqual(seedRecipes(300), seedRecipes(300));
  const a = new InMemoryRecipeStore({ seedCount: 10_000, latencyMs: 0 });
  assert.equal(a.count(), 10_000);
  assert.deepEqual(await a.get(1234), seedRecipe(1234));
  const r42 = await a.get(42);
  assert.equal(r42?.name, 'Chicken Tikka Masala');
  assert.equal(await a.get(10_001), undefined);
  // Varied, not one recipe repeated: at least a handful of names and every cuisine appear.
  const recipes = seedRecipes(1000);
  assert.ok(new Set(recipes.map((r) => r.name)).size > 100);
  assert.equal(new Set(recipes.map((r) => r.cuisine)).size, 12);
});

test('pagination walks every recipe once, in id order, with and without a cuisine', async () => {
  const store = new InMemoryRecipeStore({ seedCount: 1000, latencyMs: 0 });
  for (const cuisine of [undefined, 'indian']) {
    const seen: number[] = [];
    let afterId = 0;
    for (;;) {
      const page = await store.list({ cuisine, afterId, limit: 37 });
      seen.push(...page.items.map((r) => r.id));
      if (cuisine) assert.ok(page.items.every((r) => r.cuisine === cuisine));
      if (!page.hasMore) break;
      afterId = page.items.at(-1)!.id;
    }
    const expected = seedRecipes(1000)
      .filter((r) => !cuisine || r.cuisine === cuisine)
      .map((r) => r.id);
    assert.deepEqual(seen, expected);
  }
  assert.deepEqual(await store.list({ afterId: 1000, limit: 10 }), { items: [], hasMore: false });
  assert.deepEqual(await store.list({ cuisine: 'martian', afterId: 0, limit: 10 }), { items: [], hasMore: false });
});

test('created recipes get the next id and appear at the end of listings', async () => {
  const store = new InMemoryRecipeStore({ seedCount: 100, latencyMs: 0, now: () => new Date('2025-05-05T00:00:00Z') });
  const created = await store.create({
    name: 'X',
    cuisine: 'greek',
    steps: ['a'],
    ingredients: [{ name: 'b', quantity: 1, unit: '' }],
    ownerId: 'u1',
    servings: 2,
  });
  assert.equal(created.id, 101);
  assert.equal(created.updatedAt, '2025-05-05T00:00:00.000Z');
  const page = await store.list({ cuisine: 'greek', afterId: 100, limit: 5 });
  assert.deepEqual(
    page.items.map((r) => r.id),
    [101],
  );
});

test('store calls take the simulated latency', async () => {
  const store = new InMemoryRecipeStore({ seedCount: 42, latencyMs: 20 });
  const start = performance.now();
  await store.get(42);
  assert.ok(performance.now() - start >= 18);
});

test('cursors round-trip and foreign cursors are a validation error', () => {
  assert.equal(decodeCursor(encodeCursor(1234)), 1234);
  assert.throws(
    () => decodeCursor('bm9wZQ'),
    (e: unknown) => e instanceof AppError && e.code === 'VALIDATION_FAILED',
  );
});

test('the published cursor pattern admits every issued cursor and only strings that decode', () => {
  for (let digits = 1; digits <= 10; digits++) {
    for (const id of [10 ** (digits - 1), 10 ** digits - 1, Math.floor(10 ** digits / 3)]) {
      const cursor = encodeCursor(id);
      assert.match(cursor, cursorPattern, `cursor of ${id}`);
      assert.equal(decodeCursor(cursor), id);
    }
  }
  // Base64url of other text, padding, and stray characters (which Buffer would skip) are refused.
  for (const foreign of [
    'bm9wZQ',
    `${encodeCursor(12)}==`,
    `${encodeCursor(12)}!`,
    'djE6',
    encodeCursor(1).slice(0, 5),
  ]) {
    assert.doesNotMatch(foreign, cursorPattern);
    assert.throws(
      () => decodeCursor(foreign),
      (e: unknown) => e instanceof AppError,
    );
  }
});
