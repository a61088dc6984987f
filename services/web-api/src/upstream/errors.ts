import { status as grpcStatus } from '@grpc/grpc-js';
import { AppError, errorBody, type ErrorBody, type ErrorCode } from '@recipe-mesh/platform/errors';
import {
  codeOfBareGrpcStatus,
  codeOfBareHttpStatus,
  decodeErrorMetadata,
  type ErrorContractEntry,
  errorContract,
  errorMetadataKey,
  isErrorCode,
} from '@recipe-mesh/platform/error-contract';

export { vias, type Via } from '@recipe-mesh/platform/request-rules';
import type { Via } from '@recipe-mesh/platform/request-rules';

/** `operation` label values of upstream_request_duration_seconds (docs/contracts.md). */
export type Operation = 'getRecipe' | 'listRecipes' | 'createRecipe' | 'setPreferences' | 'export';
/** `outcome` label values of upstream_request_duration_seconds (docs/contracts.md). */
export type Outcome = 'success' | 'client_error' | 'server_error' | 'timeout' | 'unavailable';
export type FailureOutcome = Exclude<Outcome, 'success'>;

export const upstreamName = 'recipe-api';

/**
 * A failed call to recipe-api, already translated into what web-api answers: the HTTP status (via
 * the platform's error table), the metric outcome, and whether another attempt may help.
 * Whether it *will* be retried also depends on the call being idempotent (see retry.ts).
 * `reason` is what recipe-api (or the transport) actually said: logged, never sent to the caller.
 */
export class UpstreamError extends AppError {
  readonly reason: string;
  constructor(
    code: ErrorCode,
    message: string,
    readonly via: Via,
    readonly outcome: FailureOutcome,
    readonly retryable: boolean,
    details?: unknown,
    options?: { cause?: unknown; reason?: string },
  ) {
    super(code, message, details, options);
    this.name = 'UpstreamError';
    this.reason = options?.reason ?? message;
  }
}

/** `{ error: { code, message, upstream, via, details? } }`, the body of every upstream failure. */
export function upstreamErrorBody(error: UpstreamError): ErrorBody {
  return errorBody(error.code, error.message, {
    upstream: upstreamName,
    via: error.via,
    ...(error.details === undefined ? {} : { details: error.details }),
  });
}

// web-api's own answers have the table's message whichever protocol failed; the why goes to the log.
export const timeoutError = (via: Via, cause?: unknown, reason = 'deadline passed') =>
  new UpstreamError('UPSTREAM_TIMEOUT', errorContract.UPSTREAM_TIMEOUT.message, via, 'timeout', false, undefined, {
    cause,
    reason,
  });

export const unavailableError = (via: Via, reason: string, cause?: unknown) =>
  new UpstreamError(
    'UPSTREAM_UNAVAILABLE',
    errorContract.UPSTREAM_UNAVAILABLE.message,
    via,
    'unavailable',
    true,
    undefined,
    { cause, reason },
  );

/** recipe-api answered something web-api cannot use (wrong shape, not JSON, a failure of its own). */
export const badAnswerError = (via: Via, reason: string, outcome: FailureOutcome = 'server_error', cause?: unknown) =>
  new UpstreamError('UPSTREAM_ERROR', errorContract.UPSTREAM_ERROR.message, via, outcome, false, undefined, {
    cause,
    reason,
  });

/** What recipe-api stated with its code, whichever protocol carried it. */
interface Stated {
  message?: string | undefined;
  details?: unknown;
}

/**
 * The one translation: recipe-api answered `code` (from its REST body, GraphQL `extensions.code`
 * or gRPC error metadata, or a bare status the table reads as `code`), and web-api answers what
 * the table's `relayedAs` says. The caller's mistakes keep recipe-api's message and details.
 */
export function relayedError(code: ErrorCode, stated: Stated, via: Via, reason: string): UpstreamError {
  const entry: ErrorContractEntry = errorContract[code];
  switch (entry.relayedAs) {
    case 'as-is':
      return new UpstreamError(code, stated.message ?? entry.message, via, 'client_error', false, stated.details, {
        reason,
      });
    case 'UPSTREAM_UNAVAILABLE':
      return unavailableError(via, reason);
    case 'UPSTREAM_TIMEOUT':
      return timeoutError(via, undefined, reason);
    case 'UPSTREAM_ERROR':
      // A 4xx here is web-api's request rejected (its method, media type or query), not a crash.
      return badAnswerError(via, reason, entry.http < 500 ? 'client_error' : 'server_error');
  }
}

/** The `{ error: { code, message, details } }` body recipe-api sends, when it is that shape. */
function upstreamErrorFields(body: unknown): { code?: string; message?: string; details?: unknown } {
  const error = (body as { error?: unknown } | null | undefined)?.error;
  if (!error || typeof error !== 'object') return {};
  const { code, message, details } = error as Record<string, unknown>;
  return {
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof message === 'string' ? { message } : {}),
    ...(details === undefined ? {} : { details }),
  };
}

/**
 * A non-2xx HTTP answer (REST, or the transport of GraphQL) as what web-api answers: recipe-api's
 * code when its body names one the table gives this status, else what the bare status stands for
 * (a proxy's 503/504, an injected fault), else a 502.
 */
export function fromHttpStatus(status: number, body: unknown, via: Via): UpstreamError {
  const stated = upstreamErrorFields(body);
  const reason = `status ${status}${stated.code ? ` ${stated.code}` : ''}${stated.message ? ` (${stated.message})` : ''}`;
  if (isErrorCode(stated.code) && errorContract[stated.code].http === status)
    return relayedError(stated.code, stated, via, reason);
  const bare = codeOfBareHttpStatus(status);
  if (bare) return relayedError(bare, {}, via, reason);
  return badAnswerError(via, reason, status >= 500 ? 'server_error' : 'client_error');
}

/** Error codes of a connection that could not be made or was lost: recipe-api is not there. */
const connectionCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);
const timeoutCodes = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

function errorCodeOf(error: unknown): string | undefined {
  const e = error as { code?: unknown; cause?: unknown; errors?: unknown[] } | null;
  if (!e || typeof e !== 'object') return undefined;
  if (typeof e.code === 'string') return e.code;
  // Happy-eyeballs connects fail with an AggregateError of one error per address.
  if (Array.isArray(e.errors) && e.errors.length > 0) return errorCodeOf(e.errors[0]);
  return e.cause ? errorCodeOf(e.cause) : undefined;
}

/** A thrown transport error (undici, sockets, the deadline's AbortSignal) as what web-api answers. */
export function fromTransportError(error: unknown, via: Via): UpstreamError {
  if (error instanceof UpstreamError) return error;
  // AbortSignal.timeout() rejects with a DOMException named TimeoutError (WHATWG DOM, AbortSignal.timeout).
  if ((error as { name?: unknown } | null)?.name === 'TimeoutError') return timeoutError(via, error);
  const code = errorCodeOf(error);
  if (code && timeoutCodes.has(code)) return timeoutError(via, error);
  if (code && connectionCodes.has(code)) return unavailableError(via, code, error);
  return badAnswerError(via, error instanceof Error ? error.message : String(error), 'server_error', error);
}

/** A failed gRPC call (grpc-js ServiceError) as what web-api answers, by the same table. */
export function fromGrpcError(
  error: { code?: number; details?: string; message?: string; metadata?: { get(key: string): unknown[] } },
  via: Via = 'grpc',
): UpstreamError {
  const name = error.code === undefined ? 'UNKNOWN' : (grpcStatus[error.code] ?? String(error.code));
  const reason = `gRPC status ${name} (${error.details || error.message || 'no details'})`;
  const stated = decodeErrorMetadata(error.metadata?.get(errorMetadataKey)[0]);
  if (stated && errorContract[stated.code].grpc === error.code) return relayedError(stated.code, stated, via, reason);
  const bare = error.code === undefined ? undefined : codeOfBareGrpcStatus(error.code);
  if (bare) return relayedError(bare, {}, via, reason);
  return badAnswerError(via, reason, 'server_error', error);
}

export interface GraphqlError {
  message?: unknown;
  extensions?: { code?: unknown; details?: unknown; http?: { status?: unknown } };
}

/**
 * GraphQL errors (`errors[]` with `extensions.code`, the convention graphql-yoga and Apollo follow)
 * as what web-api answers, by the same table. A code the table does not know is a 502.
 */
export function fromGraphqlErrors(errors: GraphqlError[], via: Via = 'graphql'): UpstreamError {
  const first = errors[0] ?? {};
  const message = typeof first.message === 'string' ? first.message : undefined;
  const code = first.extensions?.code;
  const reason = `GraphQL error ${typeof code === 'string' ? code : '(no code)'}: ${message ?? '(no message)'}`;
  if (isErrorCode(code)) return relayedError(code, { message, details: first.extensions?.details }, via, reason);
  return badAnswerError(via, reason, 'server_error');
}
