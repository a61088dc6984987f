import type { RequestHandler, Response } from 'express';
import { callerBudgetHeader, callerDeadline, parseBudgetMs } from '../upstream/deadline.js';

/**
 * Notes when the caller stops waiting, from the moment the request arrived: the budget the hop in
 * front sent (upstream/deadline.ts) less `reserveMs` for the way back. Routes pass it to every
 * call to recipe-api, so no call, retry or menu item outlives the caller.
 */
export function callerDeadlines(reserveMs: number): RequestHandler {
  return (req, res, next) => {
    res.locals.callerDeadline = callerDeadline(Date.now(), parseBudgetMs(req.get(callerBudgetHeader)), reserveMs);
    next();
  };
}

/** The deadline `callerDeadlines` noted, if the caller sent a budget. */
export function callerDeadlineOf(res: Response): number | undefined {
  const deadline: unknown = res.locals.callerDeadline;
  return typeof deadline === 'number' ? deadline : undefined;
}
