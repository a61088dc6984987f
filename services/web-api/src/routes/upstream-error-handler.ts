import type { ErrorRequestHandler } from 'express';
import type { Logger } from '@recipe-mesh/platform/logger';
import { UpstreamError, upstreamErrorBody } from '../upstream/errors.js';

/**
 * Failures of recipe-api get `{ error: { code, message, upstream, via } }`; everything else goes
 * on to the platform's errorHandler. Upstream trouble is logged once here (the access line only
 * has the status).
 */
export function upstreamErrorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, next) => {
    if (!(error instanceof UpstreamError)) return next(error);
    if (error.status >= 500) {
      logger.warn(
        { via: error.via, code: error.code, outcome: error.outcome, reason: error.reason },
        'upstream call failed',
      );
    }
    if (res.headersSent || res.destroyed) return;
    res.status(error.status).json(upstreamErrorBody(error));
  };
}
