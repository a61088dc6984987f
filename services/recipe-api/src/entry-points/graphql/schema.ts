import { createSchema } from 'graphql-yoga';
import type { Request as ExpressRequest, Response as ExpressResponse } from 'express';
import { z } from 'zod';
import { parseInput } from '@recipe-mesh/platform/errors';
import type { RecipeCatalogue } from '../../domain/recipe-catalogue.js';
import { listLimits, newRecipeSchema, recipeIdInputSchema, type Recipe, type UserView } from '../../domain/recipe.js';
import { decodeCursor, encodeCursor } from '../../domain/cursor.js';
import { idempotencyKeyFromHeader, userIdFromHeader } from '@recipe-mesh/platform/request-rules';

/** The proto's shapes in GraphQL (ids are Int: the catalogue's ids stay below 2^31). */
export const typeDefs = /* GraphQL */ `
  type Ingredient {
    name: String!
    quantity: Float!
    unit: String!
  }
  "What the calling user (x-user-id) sees on top of the recipe."
  type UserView {
    favourite: Boolean!
    preferredServings: Int
  }
  type Recipe {
    id: Int!
    name: String!
    cuisine: String!
    steps: [String!]!
    ingredients: [Ingredient!]!
    ownerId: String!
    "RFC 3339."
    updatedAt: String!
    servings: Int!
    "Null for anonymous calls, in lists, and while Redis is unavailable."
    userView: UserView
  }
  type RecipeEdge {
    cursor: String!
    node: Recipe!
  }
  type PageInfo {
    hasNextPage: Boolean!
    endCursor: String
  }
  type RecipeConnection {
    edges: [RecipeEdge!]!
    pageInfo: PageInfo!
  }
  type Query {
    "NOT_FOUND error when no recipe has the id."
    recipe(id: Int!): Recipe
    "Recipes in id order; first is 1-${listLimits.max}."
    recipes(cuisine: String, first: Int = ${listLimits.default}, after: String): RecipeConnection!
  }
  input IngredientInput {
    name: String!
    quantity: Float!
    unit: String
  }
  input CreateRecipeInput {
    name: String!
    cuisine: String!
    steps: [String!]!
    ingredients: [IngredientInput!]!
    ownerId: String!
    servings: Int
    "A replay with the same key and input returns the first recipe with replayed: true."
    idempotencyKey: String
  }
  type CreateRecipePayload {
    recipe: Recipe!
    replayed: Boolean!
  }
  type Mutation {
    createRecipe(input: CreateRecipeInput!): CreateRecipePayload!
  }
`;

/** yoga's server context under express: the node request and response of the call. */
export interface ServerContext {
  req: ExpressRequest;
  res: ExpressResponse;
}

type RecipeNode = Recipe & { userView: UserView | null };

const listArgsSchema = z.object({
  cuisine: z.string().trim().toLowerCase().min(1).max(40).nullish(),
  first: z.number().int().min(1).max(listLimits.max),
  after: z.string().min(1).max(200).nullish(),
});

/** GraphQL gives `null` for omitted optional input fields; the shared schema wants them absent. */
const withoutNulls = (value: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined));

export function recipeSchema(catalogue: RecipeCatalogue) {
  return createSchema<ServerContext>({
    typeDefs,
    resolvers: {
      Query: {
        recipe: async (_: unknown, args: { id: number }, ctx: ServerContext): Promise<RecipeNode> => {
          const id = parseInput(recipeIdInputSchema, args, 'arguments').id;
          const { value, degraded } = await catalogue.getRecipe(id, userIdFromHeader(ctx.req.get('x-user-id')));
          if (degraded) {
            ctx.res.locals.degraded = degraded;
            ctx.res.setHeader('x-degraded', degraded);
          }
          return { ...value.recipe, userView: value.userView };
        },
        recipes: async (_: unknown, args: Record<string, unknown>) => {
          const { cuisine, first, after } = parseInput(listArgsSchema, args, 'arguments');
          const page = await catalogue.listRecipes({
            cuisine: cuisine ?? undefined,
            afterId: after ? decodeCursor(after) : 0,
            limit: first,
          });
          const edges = page.items.map((recipe) => ({
            cursor: encodeCursor(recipe.id),
            node: { ...recipe, userView: null },
          }));
          return { edges, pageInfo: { hasNextPage: page.hasMore, endCursor: edges.at(-1)?.cursor ?? null } };
        },
      },
      Mutation: {
        createRecipe: async (_: unknown, args: { input: Record<string, unknown> }) => {
          const { idempotencyKey, ...fields } = withoutNulls(args.input);
          const input = parseInput(
            newRecipeSchema,
            {
              ...fields,
              ingredients: Array.isArray(fields.ingredients)
                ? fields.ingredients.map((i) => withoutNulls(i as Record<string, unknown>))
                : fields.ingredients,
            },
            'input',
          );
          const key = idempotencyKeyFromHeader(typeof idempotencyKey === 'string' ? idempotencyKey : undefined);
          const { recipe, replayed } = await catalogue.createRecipe(input, key);
          return { recipe: { ...recipe, userView: null }, replayed };
        },
      },
    },
  });
}
