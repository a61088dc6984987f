import { z } from 'zod';
import { recipeIdSchema, userIdSchema } from '@recipe-mesh/platform/request-rules';

/** The catalogue's record: the proto's `recipes.v1.Recipe` with a numeric id (ids stay below 2^31). */
export interface Ingredient {
  name: string;
  quantity: number;
  unit: string;
}

export interface Recipe {
  id: number;
  name: string;
  cuisine: string;
  steps: string[];
  ingredients: Ingredient[];
  ownerId: string;
  /** RFC 3339. */
  updatedAt: string;
  servings: number;
}

/** What one user sees on top of a recipe (absent for anonymous calls or while Redis is down). */
export interface UserView {
  favourite: boolean;
  preferredServings: number | null;
}

export interface RecipeView {
  recipe: Recipe;
  userView: UserView | null;
}

// The id rules are shared with web-api, which checks them before calling here.
export { recipeIdSchema, userIdSchema } from '@recipe-mesh/platform/request-rules';

/**
 * `{ id }` as path params, GraphQL arguments and gRPC requests carry it. Built once at module load:
 * zod 4 compiles each object schema into a validator on first use, and compiling per request cost
 * about half of recipe-api's CPU under load (docs/benchmarks.md).
 */
export const recipeIdInputSchema = z.object({ id: recipeIdSchema });

const ingredientSchema = z
  .object({
    name: z.string().trim().min(1).max(80),
    quantity: z.number().positive().max(100_000),
    unit: z.string().trim().max(20).default(''),
  })
  .strict();

/** A new recipe as every protocol accepts it (REST body, GraphQL input, gRPC message). */
export const newRecipeSchema = z
  .object({
    name: z.string().trim().min(1).max(120),
    cuisine: z.string().trim().toLowerCase().min(1).max(40),
    steps: z.array(z.string().trim().min(1).max(500)).min(1).max(50),
    ingredients: z.array(ingredientSchema).min(1).max(50),
    ownerId: userIdSchema,
    servings: z.number().int().min(1).max(100).default(4),
  })
  .strict();

export type NewRecipe = z.infer<typeof newRecipeSchema>;

/** `PUT /users/:id/preferences`: a replacement of the user's preferences and favourites. */
export const preferencesSchema = z
  .object({
    preferredServings: z.number().int().min(1).max(100).nullable().default(null),
    favourites: z.array(recipeIdSchema).max(1000).default([]),
  })
  .strict();

export type Preferences = z.infer<typeof preferencesSchema>;

export const listLimits = { default: 20, max: 100 } as const;
