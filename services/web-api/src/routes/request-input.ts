import type { Request } from 'express';
import { z } from 'zod';
import { AppError, parseInput } from '@recipe-mesh/platform/errors';
import { idempotencyKeyFromHeader, userIdFromHeader } from '@recipe-mesh/platform/request-rules';
import { vias, type Via } from '../upstream/errors.js';

export const viaQuery = z.object({ via: z.enum(vias).default('http') });
export const restOnlyViaQuery = z.object({
  via: z.literal('http', { error: 'this operation exists only over http (REST) at recipe-api' }).default('http'),
});

/** `?via=http|graphql|grpc`, http when absent. */
export function viaOf(req: Request): Via {
  return parseInput(viaQuery, { via: req.query.via }, 'query').via;
}

export function restOnlyVia(req: Request): 'http' {
  return parseInput(restOnlyViaQuery, { via: req.query.via }, 'query').via;
}

/** The shared request rules (services/platform/src/request-rules.ts), read from an express request. */
export function userIdOf(req: Request): string | undefined {
  return userIdFromHeader(req.get('x-user-id'));
}

export function idempotencyKeyOf(req: Request): string | undefined {
  return idempotencyKeyFromHeader(req.get('idempotency-key'));
}

/** A JSON object body (express.json has parsed it); anything else is the caller's mistake. */
export function jsonObjectBody(req: Request): Record<string, unknown> {
  if (!req.is('application/json')) throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'body must be application/json');
  const body: unknown = req.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new AppError('VALIDATION_FAILED', 'body must be a JSON object');
  }
  return body as Record<string, unknown>;
}
