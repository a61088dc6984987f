import { Router } from 'express';
import { z } from 'zod';
import { parseInput } from '@recipe-mesh/platform/errors';
import { userIdSchema } from '@recipe-mesh/platform/request-rules';
import type { Upstreams } from '../clients/upstreams.js';
import { jsonObjectBody, restOnlyVia } from './request-input.js';

export const userParams = z.object({ id: userIdSchema });

/**
 * `PUT /api/users/:id/preferences` — forwards the preferences to recipe-api, which stores them and
 * invalidates the user's cached views. The body's fields are recipe-api's to validate.
 */
export function preferencesRouter(upstreams: Upstreams): Router {
  const router = Router();

  router.put('/api/users/:id/preferences', async (req, res) => {
    const via = restOnlyVia(req);
    res.locals.via = via;
    const { id } = parseInput(userParams, req.params, 'path');
    const producer = await upstreams.rest.setPreferences(id, jsonObjectBody(req));
    res.json({ consumer_pid: process.pid, via, producer });
  });

  return router;
}
