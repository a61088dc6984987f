// Original file: proto/recipes/v1/recipes.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CreateRecipeRequest as _recipes_v1_CreateRecipeRequest, CreateRecipeRequest__Output as _recipes_v1_CreateRecipeRequest__Output } from '../../recipes/v1/CreateRecipeRequest.js';
import type { CreateRecipeResponse as _recipes_v1_CreateRecipeResponse, CreateRecipeResponse__Output as _recipes_v1_CreateRecipeResponse__Output } from '../../recipes/v1/CreateRecipeResponse.js';
import type { GetRecipeRequest as _recipes_v1_GetRecipeRequest, GetRecipeRequest__Output as _recipes_v1_GetRecipeRequest__Output } from '../../recipes/v1/GetRecipeRequest.js';
import type { GetRecipeResponse as _recipes_v1_GetRecipeResponse, GetRecipeResponse__Output as _recipes_v1_GetRecipeResponse__Output } from '../../recipes/v1/GetRecipeResponse.js';
import type { ListRecipesRequest as _recipes_v1_ListRecipesRequest, ListRecipesRequest__Output as _recipes_v1_ListRecipesRequest__Output } from '../../recipes/v1/ListRecipesRequest.js';
import type { Recipe as _recipes_v1_Recipe, Recipe__Output as _recipes_v1_Recipe__Output } from '../../recipes/v1/Recipe.js';

export interface RecipeServiceClient extends grpc.Client {
  CreateRecipe(argument: _recipes_v1_CreateRecipeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_recipes_v1_CreateRecipeResponse__Output>): grpc.ClientUnaryCall;
  CreateRecipe(argument: _recipes_v1_CreateRecipeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_recipes_v1_CreateRecipeResponse__Output>): grpc.ClientUnaryCall;
  CreateRecipe(argument: _recipes_v1_CreateRecipeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_recipes_v1_CreateRecipeResponse__Output>): grpc.ClientUnaryCall;
  CreateRecipe(argument: _recipes_v1_CreateRecipeRequest, callback: grpc.requestCallback<_recipes_v1_CreateRecipeResponse__Output>): grpc.ClientUnaryCall;
  createRecipe(argument: _recipes_v1_CreateRecipeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_recipes_v1_CreateRecipeResponse__Output>): grpc.ClientUnaryCall;
  createRecipe(argument: _recipes_v1_CreateRecipeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_recipes_v1_CreateRecipeResponse__Output>): grpc.ClientUnaryCall;
  createRecipe(argument: _recipes_v1_CreateRecipeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_recipes_v1_CreateRecipeResponse__Output>): grpc.ClientUnaryCall;
  createRecipe(argument: _recipes_v1_CreateRecipeRequest, callback: grpc.requestCallback<_recipes_v1_CreateRecipeResponse__Output>): grpc.ClientUnaryCall;
  
  GetRecipe(argument: _recipes_v1_GetRecipeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_recipes_v1_GetRecipeResponse__Output>): grpc.ClientUnaryCall;
  GetRecipe(argument: _recipes_v1_GetRecipeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_recipes_v1_GetRecipeResponse__Output>): grpc.ClientUnaryCall;
  GetRecipe(argument: _recipes_v1_GetRecipeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_recipes_v1_GetRecipeResponse__Output>): grpc.ClientUnaryCall;
  GetRecipe(argument: _recipes_v1_GetRecipeRequest, callback: grpc.requestCallback<_recipes_v1_GetRecipeResponse__Output>): grpc.ClientUnaryCall;
  getRecipe(argument: _recipes_v1_GetRecipeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_recipes_v1_GetRecipeResponse__Output>): grpc.ClientUnaryCall;
  getRecipe(argument: _recipes_v1_GetRecipeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_recipes_v1_GetRecipeResponse__Output>): grpc.ClientUnaryCall;
  getRecipe(argument: _recipes_v1_GetRecipeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_recipes_v1_GetRecipeResponse__Output>): grpc.ClientUnaryCall;
  getRecipe(argument: _recipes_v1_GetRecipeRequest, callback: grpc.requestCallback<_recipes_v1_GetRecipeResponse__Output>): grpc.ClientUnaryCall;
  
  ListRecipes(argument: _recipes_v1_ListRecipesRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_recipes_v1_Recipe__Output>;
  ListRecipes(argument: _recipes_v1_ListRecipesRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_recipes_v1_Recipe__Output>;
  listRecipes(argument: _recipes_v1_ListRecipesRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_recipes_v1_Recipe__Output>;
  listRecipes(argument: _recipes_v1_ListRecipesRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_recipes_v1_Recipe__Output>;
  
}

export interface RecipeServiceHandlers extends grpc.UntypedServiceImplementation {
  CreateRecipe: grpc.handleUnaryCall<_recipes_v1_CreateRecipeRequest__Output, _recipes_v1_CreateRecipeResponse>;
  
  GetRecipe: grpc.handleUnaryCall<_recipes_v1_GetRecipeRequest__Output, _recipes_v1_GetRecipeResponse>;
  
  ListRecipes: grpc.handleServerStreamingCall<_recipes_v1_ListRecipesRequest__Output, _recipes_v1_Recipe>;
  
}

export interface RecipeServiceDefinition extends grpc.ServiceDefinition {
  CreateRecipe: MethodDefinition<_recipes_v1_CreateRecipeRequest, _recipes_v1_CreateRecipeResponse, _recipes_v1_CreateRecipeRequest__Output, _recipes_v1_CreateRecipeResponse__Output>
  GetRecipe: MethodDefinition<_recipes_v1_GetRecipeRequest, _recipes_v1_GetRecipeResponse, _recipes_v1_GetRecipeRequest__Output, _recipes_v1_GetRecipeResponse__Output>
  ListRecipes: MethodDefinition<_recipes_v1_ListRecipesRequest, _recipes_v1_Recipe, _recipes_v1_ListRecipesRequest__Output, _recipes_v1_Recipe__Output>
}
