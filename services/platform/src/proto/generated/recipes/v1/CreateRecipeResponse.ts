// Original file: proto/recipes/v1/recipes.proto

import type { Recipe as _recipes_v1_Recipe, Recipe__Output as _recipes_v1_Recipe__Output } from '../../recipes/v1/Recipe.js';

export interface CreateRecipeResponse {
  'recipe'?: (_recipes_v1_Recipe | null);
  'replayed'?: (boolean);
  'producerPid'?: (number);
}

export interface CreateRecipeResponse__Output {
  'recipe': (_recipes_v1_Recipe__Output | null);
  'replayed': (boolean);
  'producerPid': (number);
}
