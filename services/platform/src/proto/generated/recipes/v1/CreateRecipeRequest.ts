// Original file: proto/recipes/v1/recipes.proto

import type { Ingredient as _recipes_v1_Ingredient, Ingredient__Output as _recipes_v1_Ingredient__Output } from '../../recipes/v1/Ingredient.js';

export interface CreateRecipeRequest {
  'name'?: (string);
  'cuisine'?: (string);
  'steps'?: (string)[];
  'ingredients'?: (_recipes_v1_Ingredient)[];
  'ownerId'?: (string);
  'servings'?: (number);
  'idempotencyKey'?: (string);
}

export interface CreateRecipeRequest__Output {
  'name': (string);
  'cuisine': (string);
  'steps': (string)[];
  'ingredients': (_recipes_v1_Ingredient__Output)[];
  'ownerId': (string);
  'servings': (number);
  'idempotencyKey': (string);
}
