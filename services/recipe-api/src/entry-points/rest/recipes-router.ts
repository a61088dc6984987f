import express, { Router, type Request } from 'express';
import { z } from 'zod';
import { AppError, parseInput } from '@recipe-mesh/platform/errors';
import type { FaultRegistry } from '@recipe-mesh/platform/faults';
import type { RecipeCatalogue } from '../../domain/recipe-catalogue.js';
import {
  listLimits,
  newRecipeSchema,
  preferencesSchema,
  recipeIdInputSchema,
  userIdSchema,
} from '../../domain/recipe.js';
import { cursorPattern, decodeCursor, encodeCursor } from '../../domain/cursor.js';
import { text } from '@recipe-mesh/platform/recipe-input';
import { idempotencyKeyFromHeader, userIdFromHeader } from '@recipe-mesh/platform/request-rules';
import { producerPid } from '../request-input.js';
import type { RecipeApiSwitches } from '../../faults.js';

export const listQuerySchema = z.object({
  cuisine: text(40).toLowerCase().optional(),
  limit: z.coerce.number().int().min(1).max(listLimits.max).default(listLimits.default),
  cursor: z
    .string()
    .regex(cursorPattern, 'not a cursor this API issued')
    .optional()
    .meta({ description: 'The `nextCursor` of the previous page' }),
});

/** A JSON body parser that answers 415 for any other content type instead of seeing `undefined`. */
function jsonBody(limitBytes: number) {
  const parse = express.json({ limit: limitBytes });
  return [
    (req: Request, _res: unknown, next: (error?: unknown) => void) =>
      next(
        req.is('application/json')
          ? undefined
          : new AppError('UNSUPPORTED_MEDIA_TYPE', 'body must be application/json'),
      ),
    parse,
  ];
}

export const userParamsSchema = z.object({ id: userIdSchema });
const idParam = (req: Request) => parseInput(recipeIdInputSchema, req.params, 'path').id;

/** REST routes over the catalogue. Responses carry `producer_pid`; errors go to the shared handler. */
export function recipesRouter(
  catalogue: RecipeCatalogue,
  options: { jsonBodyLimitBytes: number; faults: Pick<FaultRegistry<RecipeApiSwitches>, 'get' | 'roll'> },
): Router {
  const router = Router();
  const body = jsonBody(options.jsonBodyLimitBytes);

  router.get('/recipes', async (req, res) => {
    const query = parseInput(listQuerySchema, req.query, 'query');
    const afterId = query.cursor ? decodeCursor(query.cursor) : 0;
    const page = await catalogue.listRecipes({ cuisine: query.cuisine, afterId, limit: query.limit });
    const last = page.items.at(-1);
    res.json({
      producer_pid: producerPid,
      recipes: page.items,
      nextCursor: page.hasMore && last ? encodeCursor(last.id) : null,
    });
  });

  router.get('/recipes/:id', async (req, res) => {
    const id = idParam(req);
    const viewer = userIdFromHeader(req.get('x-user-id'));
    const { value, degraded } = await catalogue.getRecipe(id, viewer);
    if (degraded) {
      res.locals.degraded = degraded;
      res.set('x-degraded', degraded);
    }
    res.json({ producer_pid: producerPid, recipe: value.recipe, userView: value.userView });
  });

  router.post('/recipes', ...body, async (req, res) => {
    const key = idempotencyKeyFromHeader(req.get('idempotency-key'));
    const input = parseInput(newRecipeSchema, req.body, 'recipe');
    const { recipe, replayed } = await catalogue.createRecipe(input, key);
    // The `resetAfterCreate` fault: the create is committed, the answer never leaves. The caller's
    // proxy sees the connection reset and may retry a POST that already did its work.
    if (options.faults.roll(options.faults.get().resetAfterCreate ?? 0)) {
      req.socket.destroy();
      return;
    }
    // 201 the first time, 200 with the same body on a replay (Stripe's behaviour, flagged by header).
    if (replayed) res.set('idempotent-replayed', 'true');
    res
      .status(replayed ? 200 : 201)
      .location(`/recipes/${recipe.id}`)
      .json({ producer_pid: producerPid, recipe });
  });

  router.put('/users/:id/preferences', ...body, async (req, res) => {
    const userId = parseInput(userParamsSchema, req.params, 'path').id;
    const preferences = parseInput(preferencesSchema, req.body, 'preferences');
    const result = await catalogue.setPreferences(userId, preferences);
    res.json({ producer_pid: producerPid, userId, ...result });
  });

  return router;
}

export { idParam };
