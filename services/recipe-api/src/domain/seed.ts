import type { Ingredient, Recipe } from './recipe.js';

/**
 * Deterministic catalogue: the same count always yields the same recipes (tests, experiments and
 * every replica agree on what id 1234 is). mulberry32 is a small, well-known 32-bit PRNG; the
 * quality needed here is "looks varied", not statistical.
 */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const cuisines = [
  'indian',
  'italian',
  'mexican',
  'japanese',
  'thai',
  'french',
  'greek',
  'chinese',
  'lebanese',
  'ethiopian',
  'peruvian',
  'korean',
] as const;

const styles = ['Smoky', 'Crispy', 'Slow-cooked', 'Spiced', 'Charred', 'Lemony', 'Herbed', 'Golden', 'Fiery', 'Creamy'];
const mains = ['Chicken', 'Chickpea', 'Lamb', 'Tofu', 'Salmon', 'Aubergine', 'Beef', 'Mushroom', 'Prawn', 'Lentil'];
const dishes = ['Curry', 'Stew', 'Tacos', 'Risotto', 'Noodles', 'Skewers', 'Pie', 'Salad', 'Bowl', 'Flatbread'];
const pantry: Array<[string, string]> = [
  ['onion', 'piece'],
  ['garlic', 'clove'],
  ['tomato', 'g'],
  ['olive oil', 'ml'],
  ['rice', 'g'],
  ['yogurt', 'g'],
  ['cumin', 'tsp'],
  ['coriander', 'tsp'],
  ['chilli', 'piece'],
  ['lime', 'piece'],
  ['stock', 'ml'],
  ['butter', 'g'],
  ['flour', 'g'],
  ['cream', 'ml'],
  ['ginger', 'g'],
  ['soy sauce', 'ml'],
];
const verbs = ['Chop', 'Marinate', 'Sear', 'Simmer', 'Roast', 'Stir in', 'Season', 'Rest', 'Toast', 'Fold in'];

const seedEpochMs = Date.UTC(2024, 0, 1);

/** "Chicken Tikka Masala", as the producer of "Distributed Systems with Node.js" serves it. */
export function recipe42(): Recipe {
  return {
    id: 42,
    name: 'Chicken Tikka Masala',
    cuisine: 'indian',
    steps: [
      'Marinate the chicken in yogurt, garlic, ginger and garam masala.',
      'Char the chicken under a hot grill.',
      'Simmer tomatoes, cream and spices into a sauce.',
      'Stir the chicken into the sauce and simmer for ten minutes.',
    ],
    ingredients: [
      { name: 'chicken thigh', quantity: 600, unit: 'g' },
      { name: 'yogurt', quantity: 150, unit: 'g' },
      { name: 'garam masala', quantity: 2, unit: 'tsp' },
      { name: 'tomato', quantity: 400, unit: 'g' },
      { name: 'cream', quantity: 100, unit: 'ml' },
    ],
    ownerId: 'chef-1',
    updatedAt: new Date(seedEpochMs + 42 * 60_000).toISOString(),
    servings: 4,
  };
}

function pick<T>(random: () => number, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)] as T;
}

export function seedRecipe(id: number): Recipe {
  if (id === 42) return recipe42();
  const random = mulberry32(id * 2654435761);
  const main = pick(random, mains);
  const ingredients: Ingredient[] = [
    { name: main.toLowerCase(), quantity: 100 + Math.floor(random() * 8) * 50, unit: 'g' },
  ];
  const extra = 2 + Math.floor(random() * 6);
  for (let i = 0; i < extra; i++) {
    const [name, unit] = pick(random, pantry);
    if (ingredients.some((it) => it.name === name)) continue;
    ingredients.push({
      name,
      quantity: 1 + Math.floor(random() * 20) * (unit === 'g' || unit === 'ml' ? 10 : 1),
      unit,
    });
  }
  const steps = Array.from(
    { length: 3 + Math.floor(random() * 4) },
    (_, i) => `${pick(random, verbs)} the ${i === 0 ? main.toLowerCase() : pick(random, pantry)[0]}.`,
  );
  return {
    id,
    name: `${pick(random, styles)} ${main} ${pick(random, dishes)}`,
    cuisine: pick(random, cuisines),
    steps,
    ingredients,
    ownerId: `chef-${1 + Math.floor(random() * 500)}`,
    updatedAt: new Date(seedEpochMs + id * 60_000).toISOString(),
    servings: 1 + Math.floor(random() * 8),
  };
}

export function seedRecipes(count: number): Recipe[] {
  return Array.from({ length: count }, (_, i) => seedRecipe(i + 1));
}
