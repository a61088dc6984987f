import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from './generated/recipes.js';

export type * from './generated/recipes/v1/Recipe.js';
export type * from './generated/recipes/v1/Ingredient.js';
export type * from './generated/recipes/v1/UserView.js';
export type * from './generated/recipes/v1/GetRecipeRequest.js';
export type * from './generated/recipes/v1/GetRecipeResponse.js';
export type * from './generated/recipes/v1/ListRecipesRequest.js';
export type * from './generated/recipes/v1/CreateRecipeRequest.js';
export type * from './generated/recipes/v1/CreateRecipeResponse.js';
export type {
  RecipeServiceClient,
  RecipeServiceHandlers,
  RecipeServiceDefinition,
} from './generated/recipes/v1/RecipeService.js';

/** Same depth from src/proto and dist/proto. */
export const recipesProtoPath = fileURLToPath(new URL('../../../../proto/recipes/v1/recipes.proto', import.meta.url));

/**
 * Runtime loading with the options the committed types were generated with
 * (scripts/gen-proto.mjs): int64 as string, defaults filled, so the types match what arrives.
 */
export function loadRecipesProto(): ProtoGrpcType {
  const definition = protoLoader.loadSync(recipesProtoPath, {
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
}
