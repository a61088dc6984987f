import { z } from 'zod';
import { parseInput } from './errors.js';

/**
 * The rules for what callers send, applied by both services (web-api checks them before any call to
 * recipe-api, recipe-api again on every protocol), so a bad value gets the same 400 and the same
 * message wherever it enters. Schemas are built once at module load: zod 4 compiles an object
 * schema into a validator on first use, so one built per request recompiles every time.
 */

const recipeIdMessage = 'must be a positive integer below 2^31';

/**
 * Recipe ids are positive int32 values (the proto's int64 carries them, as a decimal string in
 * its proto3 JSON form, services/platform/src/grpc/service-definition.ts). A decimal string or a number is accepted; hex, exponents, signs and
 * spaces are not.
 */
export const recipeIdSchema = z.preprocess(
  (value) => (typeof value === 'string' && /^[1-9]\d{0,9}$/.test(value) ? Number(value) : value),
  z
    .number({ error: recipeIdMessage })
    .int(recipeIdMessage)
    .min(1, recipeIdMessage)
    .max(2 ** 31 - 1, recipeIdMessage),
);

/**
 * User ids come from `x-user-id` and path segments and end up inside Redis keys and SCAN MATCH
 * patterns, so the character set excludes glob specials (`* ? [ ] \`) and `:` (the key separator).
 */
export const userIdSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/,
    'must be 1-64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit',
  );

/** Printable ASCII without spaces, up to 255 characters, as the IETF Idempotency-Key draft's examples. */
export const idempotencyKeySchema = z
  .string()
  .regex(/^[\x21-\x7e]{1,255}$/, 'must be 1-255 printable ASCII characters');

/**
 * The two request headers as sent: an empty value means the header is absent (anonymous, no key),
 * anything else must follow the rule. The OpenAPI documents publish these, so fuzzers generate
 * what the services accept.
 */
export const requestHeadersSchema = z.object({
  'x-user-id': z.union([z.literal(''), userIdSchema]).meta({ description: 'The caller; empty or absent: anonymous' }),
  'idempotency-key': z
    .union([z.literal(''), idempotencyKeySchema])
    .meta({ description: 'Makes a retried create safe; empty or absent: none' }),
});
const userIdHeader = requestHeadersSchema.pick({ 'x-user-id': true });
const idempotencyKeyHeader = requestHeadersSchema.pick({ 'idempotency-key': true });

/** `x-user-id` (HTTP header or gRPC metadata): absent or empty means anonymous, malformed is a 400. */
export function userIdFromHeader(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  return parseInput(userIdHeader, { 'x-user-id': raw }, 'x-user-id header')['x-user-id'];
}

/** `Idempotency-Key`: absent or empty means none, malformed is a 400. */
export function idempotencyKeyFromHeader(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  return parseInput(idempotencyKeyHeader, { 'idempotency-key': raw }, 'Idempotency-Key header')['idempotency-key'];
}

/**
 * How web-api reaches recipe-api: the `via` query parameter of web-api's public API, its metric
 * label, and what the lab's load and the bench ask for.
 */
export const vias = ['http', 'graphql', 'grpc'] as const;
export type Via = (typeof vias)[number];
