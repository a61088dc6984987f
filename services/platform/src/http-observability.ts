import type { NextFunction, Request, Response, RequestHandler, ErrorRequestHandler } from 'express';
import type { Logger } from 'pino';
import { startDurationTimer, type Metrics } from './metrics.js';
import { AppError, errorBody } from './errors.js';
import { applyRequestFault, type FaultRegistry } from './faults.js';

/** The route template (`/recipes/:id`), never the raw URL: label values must stay bounded. */
export function routeTemplate(req: Request): string {
  const route = req.route as { path?: unknown } | undefined;
  if (route && typeof route.path === 'string') return `${req.baseUrl}${route.path}`;
  return req.baseUrl ? `${req.baseUrl}` : 'unmatched';
}

/**
 * RED metrics and one access log line per request. Timed from arrival to the response finishing
 * (or the client going away: `close` without `finish` is logged as aborted with status 499, nginx's
 * convention, so client aborts are visible).
 */
export function requestObservability(options: {
  metrics: Pick<Metrics, 'httpServerDuration'>;
  logger: Logger;
  fields?: (req: Request, res: Response) => Record<string, unknown>;
}): RequestHandler {
  return (req, res, next) => {
    const stop = startDurationTimer(options.metrics.httpServerDuration);
    const log = options.logger;
    let done = false;
    const finish = (aborted: boolean) => {
      if (done) return;
      done = true;
      const status = aborted ? 499 : res.statusCode;
      const route = routeTemplate(req);
      const seconds = stop({ method: req.method, route, status_code: status });
      log.info(
        {
          method: req.method,
          route,
          status,
          duration_ms: Math.round(seconds * 1e4) / 10,
          ...(aborted ? { aborted: true } : {}),
          ...options.fields?.(req, res),
        },
        'request',
      );
    };
    res.once('finish', () => finish(false));
    res.once('close', () => finish(!res.writableFinished));
    next();
  };
}

/** App faults on the traffic port (latency, error rate, CPU burn), decided per request by path. */
export function faultInjection(faults: Pick<FaultRegistry, 'decide'>): RequestHandler {
  return (req, res, next) => {
    const fault = faults.decide(req.path);
    if (fault.delayMs === 0 && fault.cpuBurnMs === 0 && fault.errorStatus === undefined) return next();
    applyRequestFault(fault).then((status) => {
      if (status === undefined) return next();
      res.status(status).json(errorBody('INJECTED_FAULT', `fault injected: status ${status}`));
    }, next);
  };
}

export function notFound(): RequestHandler {
  return (req, res) => {
    res.status(404).json(errorBody('NOT_FOUND', `no route ${req.method} ${req.path}`));
  };
}

/**
 * Maps every error to the JSON error shape. body-parser's own errors carry `type`/`status`
 * (expressjs/body-parser README, "Errors"); anything unknown is a 500 that logs the stack but
 * never leaks it.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    if (error instanceof AppError) {
      res
        .status(error.status)
        .json(errorBody(error.code, error.message, error.details === undefined ? {} : { details: error.details }));
      return;
    }
    const bodyError = error as { type?: string; status?: number; message?: string };
    if (bodyError.type === 'entity.too.large') {
      res.status(413).json(errorBody('PAYLOAD_TOO_LARGE', 'request body too large'));
      return;
    }
    if (bodyError.type === 'entity.parse.failed') {
      res.status(400).json(errorBody('BAD_REQUEST', 'request body is not valid JSON'));
      return;
    }
    if (typeof bodyError.status === 'number' && bodyError.status >= 400 && bodyError.status < 500) {
      res.status(bodyError.status).json(errorBody('BAD_REQUEST', bodyError.message ?? 'bad request'));
      return;
    }
    logger.error({ err: error }, 'unhandled error');
    res.status(500).json(errorBody('INTERNAL', 'internal error'));
  };
}
