import { Router } from 'express';
import pLimit from 'p-limit';
import { z } from 'zod';
import { parseInput } from '@recipe-mesh/platform/errors';
import { recipeIdSchema } from '@recipe-mesh/platform/request-rules';
import type { Upstreams } from '../clients/upstreams.js';
import { userIdOf, viaOf } from './request-input.js';

/** A menu is a handful of dishes; a cap keeps one request from fanning out into hundreds of calls. */
export const maxMenuIds = 50;

export const menuQuery = z.object({
  // `ids=1,2,3`: OpenAPI's comma-separated array (style form, explode false), so the document
  // publishes an array of recipe ids and generated menus are real ones.
  ids: z
    .preprocess(
      (value) => (typeof value === 'string' ? value.split(',') : value),
      z
        .array(recipeIdSchema, { error: 'ids is required, e.g. ids=1,2,3' })
        .min(1)
        .max(maxMenuIds, `at most ${maxMenuIds} ids`),
    )
    // The same dish twice needs one call.
    .transform((ids) => [...new Set(ids)])
    .meta({
      description: `Comma-separated recipe ids, at most ${maxMenuIds}`,
      example: [1, 2, 3],
      param: { style: 'form', explode: false, required: true },
    }),
});

/**
 * `GET /api/menu?ids=1,2,3&via=` — fetches every recipe of the menu in parallel, at most
 * `concurrency` calls at once per request, answering in the order asked. The first failure fails
 * the menu (with that failure's status) and cancels the calls not yet started.
 */
export function menuRouter(upstreams: Upstreams, concurrency: number): Router {
  const router = Router();

  router.get('/api/menu', async (req, res) => {
    const via = viaOf(req);
    res.locals.via = via;
    const { ids } = parseInput(menuQuery, { ids: req.query.ids }, 'query');
    const userId = userIdOf(req);
    const client = upstreams.byVia[via];
    // rejectOnClear: calls still queued settle (with an AbortError) when the menu has failed.
    const limit = pLimit({ concurrency, rejectOnClear: true });
    const producers = await Promise.all(
      ids.map((id) =>
        limit(() => client.getRecipe(id, { userId })).catch((error: unknown) => {
          limit.clearQueue();
          throw error;
        }),
      ),
    );
    res.json({ consumer_pid: process.pid, via, producers });
  });

  return router;
}
