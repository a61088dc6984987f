import { Router, type Response } from 'express';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '@recipe-mesh/platform/logger';
import type { FaultRegistry } from '@recipe-mesh/platform/faults';
import type { Upstreams } from '../clients/upstreams.js';
import { restOnlyVia } from './request-input.js';
import type { WebApiSwitches } from '../faults.js';

/** How recipe-api's export is relayed to the client: a named strategy, chosen per request by the fault document. */
interface ExportRelay {
  readonly name: 'pipeline' | 'bare-pipe';
  relay(upstreams: Upstreams, res: Response, logger: Logger): Promise<void>;
}

/**
 * `pipeline` (the default): `stream.pipeline` carries backpressure both ways and, when the client
 * goes away, destroys the upstream body, which makes undici abort the request and close the socket
 * to recipe-api; before the headers arrive, the same abort comes from `clientGone`.
 */
const pipelineRelay: ExportRelay = {
  name: 'pipeline',
  async relay(upstreams, res, logger) {
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
      if (clientGone.signal.aborted)
        logger.debug({ via: 'http' }, 'export: client went away, upstream request destroyed');
      else logger.warn({ err: error, via: 'http' }, 'export stream failed');
    }
  },
};

/**
 * `bare-pipe` (the `streamCleanup: false` fault, the client-abort-leak experiment): the Nodeload2
 * bug, a bare `.pipe()`, which on the client's `close` only unpipes. The upstream body then sits
 * paused with its socket open (undici's body timeout does not run while the body is paused), and
 * recipe-api's export waits on backpressure forever: open sockets and fds climb on both sides.
 */
const barePipeRelay: ExportRelay = {
  name: 'bare-pipe',
  async relay(upstreams, res, logger) {
    const upstream = await upstreams.rest.openExport({});
    res.status(200).type(upstream.contentType);
    // Without a listener an upstream error would crash the process; the leak is the point, not a crash.
    upstream.body.on('error', (error) => logger.warn({ err: error, via: 'http' }, 'export upstream failed'));
    upstream.body.pipe(res);
  },
};

/** The relay the fault document selects (read per request, so a flip takes effect at once). */
export function exportRelayFor(faults: FaultRegistry<WebApiSwitches>): ExportRelay {
  return faults.get().streamCleanup === false ? barePipeRelay : pipelineRelay;
}

/** `GET /api/recipes/export` — recipe-api's NDJSON export streamed through, never buffered. */
export function exportRouter(upstreams: Upstreams, faults: FaultRegistry<WebApiSwitches>, logger: Logger): Router {
  const router = Router();

  router.get('/api/recipes/export', async (req, res) => {
    res.locals.via = restOnlyVia(req);
    await exportRelayFor(faults).relay(upstreams, res, logger);
  });

  return router;
}
