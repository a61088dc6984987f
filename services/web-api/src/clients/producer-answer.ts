import { z } from 'zod';
import { badAnswerError, type Via } from '../upstream/errors.js';
import type { ProducerCreated, ProducerRecipe } from './types.js';

/** int64 ids arrive as numbers (REST JSON) or decimal strings (gRPC's proto3 JSON form, GraphQL ID). */
const recipeId = z.union([
  z.number().int().positive(),
  z
    .string()
    .regex(/^[1-9]\d*$/)
    .transform(Number)
    .refine(Number.isSafeInteger, 'id beyond 2^53'),
]);

const recipe = z.looseObject({ id: recipeId, name: z.string() });
// Passed through as it is (recipe-api sends `preferredServings: null` when the user set none).
const userView = z.looseObject({});
const pid = z.number().int().positive();

const producerRecipe = z.looseObject({
  producer_pid: pid,
  recipe,
  userView: userView.nullish().transform((v) => v ?? undefined),
});
const producerCreated = z.looseObject({
  producer_pid: pid,
  recipe,
  replayed: z.boolean().default(false),
});

function check<T>(schema: z.ZodType<T>, value: unknown, via: Via, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  throw badAnswerError(via, `${what}: ${problems}`);
}

/** Validates just what web-api uses; a missing pid or recipe is a 502 (bad answer), not a crash. */
export function readProducerRecipe(value: unknown, via: Via): ProducerRecipe {
  const { userView: view, ...rest } = check(producerRecipe, value, via, 'recipe answer');
  return view === undefined ? rest : { ...rest, userView: view };
}

export function readProducerCreated(value: unknown, via: Via): ProducerCreated {
  return check(producerCreated, value, via, 'create answer');
}
