import { z } from 'zod';
import { parseInput } from '@recipe-mesh/platform/errors';
import { userIdSchema } from '../domain/recipe.js';

/** `x-user-id` (header or gRPC metadata): absent means anonymous, malformed is a 400. */
const viewerHeaderSchema = z.object({ 'x-user-id': userIdSchema });

export function viewerFrom(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  return parseInput(viewerHeaderSchema, { 'x-user-id': raw }, 'x-user-id header')['x-user-id'];
}

/** Printable ASCII up to 255 characters, as the IETF Idempotency-Key draft's examples use. */
const idempotencyKeyHeaderSchema = z.object({
  'idempotency-key': z.string().regex(/^[\x21-\x7e]{1,255}$/, 'must be 1-255 printable ASCII characters'),
});

export function idempotencyKeyFrom(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  return parseInput(idempotencyKeyHeaderSchema, { 'idempotency-key': raw }, 'Idempotency-Key header')[
    'idempotency-key'
  ];
}

/** Present in every answer of recipe-api, as the producer of "Distributed Systems with Node.js" does. */
export const producerPid = process.pid;
