// Original file: proto/recipes/v1/recipes.proto

import type { Recipe as _recipes_v1_Recipe, Recipe__Output as _recipes_v1_Recipe__Output } from '../../recipes/v1/Recipe.js';
import type { UserView as _recipes_v1_UserView, UserView__Output as _recipes_v1_UserView__Output } from '../../recipes/v1/UserView.js';

export interface GetRecipeResponse {
  'recipe'?: (_recipes_v1_Recipe | null);
  'userView'?: (_recipes_v1_UserView | null);
  'producerPid'?: (number);
}

export interface GetRecipeResponse__Output {
  'recipe': (_recipes_v1_Recipe__Output | null);
  'userView': (_recipes_v1_UserView__Output | null);
  'producerPid': (number);
}
