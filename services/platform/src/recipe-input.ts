import { z } from 'zod';
import { recipeIdSchema, userIdSchema } from './request-rules.js';

/**
 * The bodies callers send to create a recipe and to set preferences, as every protocol of
 * recipe-api validates them (REST, GraphQL input, gRPC message). Here, beside the other request
 * rules, because web-api publishes the same bodies in its OpenAPI document (it forwards them to
 * recipe-api, which validates them): one schema for both documents and the validation.
 *
 * Every rule is one JSON Schema can state, so a schema-valid input is an accepted one: free text
 * is checked as sent (its length in code points, as JSON Schema's maxLength counts, before it is
 * trimmed) and must hold a character that trimming keeps.
 */

// What String.prototype.trim() removes (ECMA-262 WhiteSpace and LineTerminator), spelled out: the
// pattern is also read by tools in other languages (schemathesis is Python), whose `\s` differs.
const trimmedAway = '\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff';
const visibleCharacter = new RegExp(`[^${trimmedAway}]`);

/** Text of at most `max` characters (code points), trimmed once accepted; may be blank. */
export function boundedText(max: number) {
  return z
    .string()
    .refine((value) => value.length <= max || [...value].length <= max, `must be at most ${max} characters`)
    .meta({ maxLength: max })
    .trim();
}

/** Text people type: at most `max` characters with at least one that is not whitespace; trimmed. */
export function text(max: number) {
  return z
    .string()
    .regex(visibleCharacter, 'must not be blank')
    .refine((value) => value.length <= max || [...value].length <= max, `must be at most ${max} characters`)
    .meta({ maxLength: max })
    .trim();
}

const ingredientSchema = z
  .object({
    name: text(80),
    quantity: z.number().positive().max(100_000),
    unit: boundedText(20).default(''),
  })
  .strict();

/** A new recipe as every protocol accepts it (REST body, GraphQL input, gRPC message). */
export const newRecipeSchema = z
  .object({
    name: text(120),
    cuisine: text(40).toLowerCase(),
    steps: z.array(text(500)).min(1).max(50),
    ingredients: z.array(ingredientSchema).min(1).max(50),
    ownerId: userIdSchema,
    servings: z.number().int().min(1).max(100).default(4),
  })
  .strict();

export type NewRecipe = z.infer<typeof newRecipeSchema>;

/** `PUT /users/:id/preferences`: a replacement of the user's preferences and favourites. */
export const preferencesSchema = z
  .object({
    preferredServings: z.number().int().min(1).max(100).nullable().default(null),
    favourites: z.array(recipeIdSchema).max(1000).default([]),
  })
  .strict();

export type Preferences = z.infer<typeof preferencesSchema>;
