import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import type { FaultRegistry } from '@recipe-mesh/platform/faults';
import { parseInput } from '@recipe-mesh/platform/errors';
import { z } from 'zod';
import { newRecipeSchema } from '@recipe-mesh/platform/recipe-input';
import { recipeIdSchema } from '@recipe-mesh/platform/request-rules';
import type { Upstreams } from '../clients/upstreams.js';
import { callerDeadlineOf } from './caller-deadline.js';
import { idempotencyKeyOf, jsonObjectBody, userIdOf, viaOf } from './request-input.js';
import type { WebApiSwitches } from '../faults.js';

export const idParams = z.object({ id: recipeIdSchema });

/**
 * `GET /api/recipes/:id?via=` — the book's consumer: `{ consumer_pid, via, producer }`, with the
 * per-user view when `x-user-id` is sent. `POST /api/recipes?via=` — creates through any protocol,
 * forwarding `Idempotency-Key`. With `idempotencyKeys: "per-request"` (fault document) web-api mints
 * one key per client request that has none, so every retry below it (its own, the mesh's) carries
 * the same key and recipe-api creates once (docs/experiments.md, "post-retry-duplicates").
 */
export function recipesRouter(upstreams: Upstreams, faults: Pick<FaultRegistry<WebApiSwitches>, 'get'>): Router {
  const router = Router();

  router.get('/api/recipes/:id', async (req, res) => {
    const via = viaOf(req);
    res.locals.via = via;
    const { id } = parseInput(idParams, req.params, 'path');
    const producer = await upstreams.byVia[via].getRecipe(id, {
      userId: userIdOf(req),
      deadline: callerDeadlineOf(res),
    });
    res.json({ consumer_pid: process.pid, via, producer });
  });

  router.post('/api/recipes', async (req, res) => {
    const via = viaOf(req);
    res.locals.via = via;
    // Validated here with the schema recipe-api applies (platform/recipe-input.ts), whichever via:
    // otherwise GraphQL's input coercion and protobuf's would each reject a bad body their own way.
    const body = parseInput(newRecipeSchema, jsonObjectBody(req), 'recipe');
    const minted = faults.get().idempotencyKeys === 'per-request' ? randomUUID() : undefined;
    const producer = await upstreams.byVia[via].createRecipe(body, {
      idempotencyKey: idempotencyKeyOf(req) ?? minted,
      userId: userIdOf(req),
      deadline: callerDeadlineOf(res),
    });
    // A replay answers what the first request created, which is not a new resource.
    res.status(producer.replayed ? 200 : 201).json({ consumer_pid: process.pid, via, producer });
  });

  return router;
}
