import { type ServiceHandlers, type Json, serviceClient, serviceDefinition } from '../grpc/service-definition.js';
import {
  type CreateRecipeRequestSchema,
  type CreateRecipeResponseSchema,
  type GetRecipeRequestSchema,
  type GetRecipeResponseSchema,
  type IngredientSchema,
  type ListRecipesRequestSchema,
  type RecipeSchema,
  RecipeService,
  type UserViewSchema,
} from './generated/recipes/v1/recipes_pb.js';

/**
 * `recipes.v1.RecipeService` (proto/recipes/v1/recipes.proto) for grpc-js: its definition for the
 * server, its client class, and its messages in the proto3 JSON form both exchange.
 */
export const recipeServiceDescriptor = RecipeService;
export const recipeServiceName = RecipeService.typeName;
export const recipeServiceDefinition = serviceDefinition(RecipeService);
export const RecipeServiceClient = serviceClient(RecipeService);
export type RecipeServiceClient = InstanceType<typeof RecipeServiceClient>;
export type RecipeServiceHandlers = ServiceHandlers<typeof RecipeService>;

export type Recipe = Json<typeof RecipeSchema>;
export type Ingredient = Json<typeof IngredientSchema>;
export type UserView = Json<typeof UserViewSchema>;
export type GetRecipeRequest = Json<typeof GetRecipeRequestSchema>;
export type GetRecipeResponse = Json<typeof GetRecipeResponseSchema>;
export type ListRecipesRequest = Json<typeof ListRecipesRequestSchema>;
export type CreateRecipeRequest = Json<typeof CreateRecipeRequestSchema>;
export type CreateRecipeResponse = Json<typeof CreateRecipeResponseSchema>;
