import type { Request } from 'express';
import { z } from 'zod';
import { AppError, parseInput } from '@recipe-mesh/platform/errors';
import { vias, type Via } from '../upstream/errors.js';

/** Positive decimal ids that fit a JS number exactly (recipe ids are int64 in the proto). */
export const recipeIdText = z
  .string()
  .regex(/^[1-9]\d{0,15}$/, 'must be a positive integer')
  .transform(Number)
  .refine(Number.isSafeInteger, 'too large');

const viaQuery = z.object({ via: z.enum(vias).default('http') });
const restOnlyViaQuery = z.object({
  via: z.literal('http', { error: 'this operation exists only over http (REST) at recipe-api' }).default('http'),
});

/** `?via=http|graphql|grpc`, http when absent. */
export function viaOf(req: Request): Via {
  return parseInput(viaQuery, { via: req.query.via }, 'query').via;
}

export function restOnlyVia(req: Request): 'http' {
  return parseInput(restOnlyViaQuery, { via: req.query.via }, 'query').via;
}

/** recipe-api's rule for user ids (they end up in Redis keys), checked here before any call. */
export const userIdText = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/,
    'must be 1-64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit',
  );

// Built once: zod 4 compiles an object schema on first use, so one built per request recompiles each time.
const userIdHeader = z.object({ 'x-user-id': userIdText });

export function userIdOf(req: Request): string | undefined {
  const value = req.get('x-user-id');
  return value === undefined ? undefined : parseInput(userIdHeader, { 'x-user-id': value }, 'header')['x-user-id'];
}

/** Printable ASCII without spaces, as the IETF Idempotency-Key draft's examples (UUIDs and the like). */
const idempotencyKeyHeader = z.object({
  'idempotency-key': z.string().regex(/^[\x21-\x7e]{1,255}$/, 'must be 1–255 printable ASCII characters'),
});

export function idempotencyKeyOf(req: Request): string | undefined {
  const value = req.get('idempotency-key');
  return value === undefined
    ? undefined
    : parseInput(idempotencyKeyHeader, { 'idempotency-key': value }, 'header')['idempotency-key'];
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
