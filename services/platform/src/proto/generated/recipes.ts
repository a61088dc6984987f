import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { CreateRecipeRequest as _recipes_v1_CreateRecipeRequest, CreateRecipeRequest__Output as _recipes_v1_CreateRecipeRequest__Output } from './recipes/v1/CreateRecipeRequest.js';
import type { CreateRecipeResponse as _recipes_v1_CreateRecipeResponse, CreateRecipeResponse__Output as _recipes_v1_CreateRecipeResponse__Output } from './recipes/v1/CreateRecipeResponse.js';
import type { GetRecipeRequest as _recipes_v1_GetRecipeRequest, GetRecipeRequest__Output as _recipes_v1_GetRecipeRequest__Output } from './recipes/v1/GetRecipeRequest.js';
import type { GetRecipeResponse as _recipes_v1_GetRecipeResponse, GetRecipeResponse__Output as _recipes_v1_GetRecipeResponse__Output } from './recipes/v1/GetRecipeResponse.js';
import type { Ingredient as _recipes_v1_Ingredient, Ingredient__Output as _recipes_v1_Ingredient__Output } from './recipes/v1/Ingredient.js';
import type { ListRecipesRequest as _recipes_v1_ListRecipesRequest, ListRecipesRequest__Output as _recipes_v1_ListRecipesRequest__Output } from './recipes/v1/ListRecipesRequest.js';
import type { Recipe as _recipes_v1_Recipe, Recipe__Output as _recipes_v1_Recipe__Output } from './recipes/v1/Recipe.js';
import type { RecipeServiceClient as _recipes_v1_RecipeServiceClient, RecipeServiceDefinition as _recipes_v1_RecipeServiceDefinition } from './recipes/v1/RecipeService.js';
import type { UserView as _recipes_v1_UserView, UserView__Output as _recipes_v1_UserView__Output } from './recipes/v1/UserView.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  recipes: {
    v1: {
      CreateRecipeRequest: MessageTypeDefinition<_recipes_v1_CreateRecipeRequest, _recipes_v1_CreateRecipeRequest__Output>
      CreateRecipeResponse: MessageTypeDefinition<_recipes_v1_CreateRecipeResponse, _recipes_v1_CreateRecipeResponse__Output>
      GetRecipeRequest: MessageTypeDefinition<_recipes_v1_GetRecipeRequest, _recipes_v1_GetRecipeRequest__Output>
      GetRecipeResponse: MessageTypeDefinition<_recipes_v1_GetRecipeResponse, _recipes_v1_GetRecipeResponse__Output>
      Ingredient: MessageTypeDefinition<_recipes_v1_Ingredient, _recipes_v1_Ingredient__Output>
      ListRecipesRequest: MessageTypeDefinition<_recipes_v1_ListRecipesRequest, _recipes_v1_ListRecipesRequest__Output>
      Recipe: MessageTypeDefinition<_recipes_v1_Recipe, _recipes_v1_Recipe__Output>
      RecipeService: SubtypeConstructor<typeof grpc.Client, _recipes_v1_RecipeServiceClient> & { service: _recipes_v1_RecipeServiceDefinition }
      UserView: MessageTypeDefinition<_recipes_v1_UserView, _recipes_v1_UserView__Output>
    }
  }
}

