import { Router } from 'express';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '@recipe-mesh/platform/logger';
import type { FaultRegistry } from '@recipe-mesh/platform/faults';
import type { Upstreams } from '../clients/upstreams.js';
import { restOnlyVia } from './request-input.js';

/**
 * `GET /api/recipes/export` — recipe-api's NDJSON export streamed through, never buffered.
 *
 * With stream cleanup on (the default), `stream.pipeline` carries backpressure both ways and, when
 * the client goes away, destroys the upstream body, which makes undici abort the request and close
 * the socket to recipe-api; before the headers arrive, the same abort comes from `clientGone`.
 *
 * The `streamCleanup: false` fault keeps the Nodeload2 bug for the client-abort-leak experiment:
 * a bare `.pipe()`, which on the client's `close` only unpipes. The upstream body then sits paused
 * with its socket open (undici's body timeout does not run while the body is paused), and
 * recipe-api's export waits on backpressure forever: open sockets and fds climb on both sides.
 */
export function exportRouter(upstreams: Upstreams, faults: FaultRegistry, logger: Logger): Router {
  const router = Router();

  router.get('/api/recipes/export', async (req, res) => {
    const via = restOnlyVia(req);
    res.locals.via = via;

    if (faults.get().streamCleanup === false) {
      const upstream = await upstreams.rest.openExport({});
      res.status(200).type(upstream.contentType);
      // Without a listener an upstream error would crash the process; the leak is the point, not a crash.
      upstream.body.on('error', (error) => logger.warn({ err: error, via }, 'export upstream failed'));
      upstream.body.pipe(res);
      return;
    }

    const clientGone = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) clientGone.abort(new Error('client went away'));
    });
    const upstream = await upstreams.rest.openExport({ signal: clientGone.signal });
    res.status(200).type(upstream.contentType);
    try {
      await pipeline(upstream.body, res);
    } catch (error) {
      // The headers are sent: all that is left is to log. A client that left is not an error.
      if (clientGone.signal.aborted) logger.debug({ via }, 'export: client went away, upstream request destroyed');
      else logger.warn({ err: error, via }, 'export stream failed');
    }
  });

  return router;
}
