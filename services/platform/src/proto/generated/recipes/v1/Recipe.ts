// Original file: proto/recipes/v1/recipes.proto

import type { Ingredient as _recipes_v1_Ingredient, Ingredient__Output as _recipes_v1_Ingredient__Output } from '../../recipes/v1/Ingredient.js';
import type { Long } from '@grpc/proto-loader';

export interface Recipe {
  'id'?: (number | string | Long);
  'name'?: (string);
  'cuisine'?: (string);
  'steps'?: (string)[];
  'ingredients'?: (_recipes_v1_Ingredient)[];
  'ownerId'?: (string);
  'updatedAt'?: (string);
  'servings'?: (number);
}

export interface Recipe__Output {
  'id': (string);
  'name': (string);
  'cuisine': (string);
  'steps': (string)[];
  'ingredients': (_recipes_v1_Ingredient__Output)[];
  'ownerId': (string);
  'updatedAt': (string);
  'servings': (number);
}
