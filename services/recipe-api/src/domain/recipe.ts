import { z } from 'zod';
import { recipeIdSchema } from '@recipe-mesh/platform/request-rules';

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

// The bodies are request rules web-api publishes too (its OpenAPI document).
export {
  type NewRecipe,
  newRecipeSchema,
  type Preferences,
  preferencesSchema,
} from '@recipe-mesh/platform/recipe-input';

export const listLimits = { default: 20, max: 100 } as const;
