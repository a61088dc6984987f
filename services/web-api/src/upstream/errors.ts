import { status as grpcStatus } from '@grpc/grpc-js';
import { AppError, errorBody, type ErrorBody, type ErrorCode } from '@recipe-mesh/platform/errors';

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
 * the platform's code catalogue), the metric outcome, and whether another attempt may help.
 * Whether it *will* be retried also depends on the call being idempotent (see retry.ts).
 */
export class UpstreamError extends AppError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly via: Via,
    readonly outcome: FailureOutcome,
    readonly retryable: boolean,
    details?: unknown,
    options?: { cause?: unknown },
  ) {
    super(code, message, details, options);
    this.name = 'UpstreamError';
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

export const timeoutError = (via: Via, cause?: unknown) =>
  new UpstreamError('UPSTREAM_TIMEOUT', `${upstreamName} did not answer in time`, via, 'timeout', false, undefined, {
    cause,
  });

export const unavailableError = (via: Via, why: string, cause?: unknown) =>
  new UpstreamError(
    'UPSTREAM_UNAVAILABLE',
    `${upstreamName} is unavailable: ${why}`,
    via,
    'unavailable',
    true,
    undefined,
    { cause },
  );

/** recipe-api answered something web-api cannot use (wrong shape, not JSON, unexpected status). */
export const badAnswerError = (via: Via, why: string, outcome: FailureOutcome = 'server_error', cause?: unknown) =>
  new UpstreamError(
    'UPSTREAM_ERROR',
    `unexpected answer from ${upstreamName}: ${why}`,
    via,
    outcome,
    false,
    undefined,
    { cause },
  );

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
 * Client errors of recipe-api that are the caller's fault and pass through unchanged (status and,
 * for 400, the failing fields). Any other 4xx means web-api itself sent something wrong: a 502.
 */
const passedThrough: Record<number, ErrorCode> = {
  400: 'VALIDATION_FAILED',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  422: 'UNPROCESSABLE',
};

/** A non-2xx HTTP answer (REST, or the transport of GraphQL) as what web-api answers. */
export function fromHttpStatus(status: number, body: unknown, via: Via): UpstreamError {
  const upstream = upstreamErrorFields(body);
  const passCode = passedThrough[status];
  if (passCode) {
    // Keep recipe-api's own code when it means the same status (BAD_REQUEST vs VALIDATION_FAILED).
    const code = status === 400 && upstream.code === 'BAD_REQUEST' ? 'BAD_REQUEST' : passCode;
    return new UpstreamError(
      code,
      upstream.message ?? `${upstreamName} answered ${status}`,
      via,
      'client_error',
      false,
      upstream.details,
    );
  }
  // 503 is what a draining or overloaded recipe-api, an injected fault and Envoy (503 UC/UF/UO)
  // answer: nothing was processed, so an idempotent call may try again.
  if (status === 503) return unavailableError(via, `status 503${upstream.message ? ` (${upstream.message})` : ''}`);
  // A gateway in between (Envoy's route timeout) gave up: retrying would only add load.
  if (status === 504) return timeoutError(via);
  return badAnswerError(
    via,
    `status ${status}${upstream.message ? ` (${upstream.message})` : ''}`,
    status >= 500 ? 'server_error' : 'client_error',
  );
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

/** A failed gRPC call (grpc-js ServiceError) as what web-api answers. */
export function fromGrpcError(
  error: { code?: number; details?: string; message?: string },
  via: Via = 'grpc',
): UpstreamError {
  const details = error.details || error.message || 'no details';
  switch (error.code) {
    case grpcStatus.DEADLINE_EXCEEDED:
      return timeoutError(via, error);
    case grpcStatus.UNAVAILABLE:
      return unavailableError(via, `UNAVAILABLE (${details})`, error);
    case grpcStatus.NOT_FOUND:
      return new UpstreamError('NOT_FOUND', details, via, 'client_error', false);
    case grpcStatus.INVALID_ARGUMENT:
      return new UpstreamError('VALIDATION_FAILED', details, via, 'client_error', false, parseDetails(details));
    case grpcStatus.ALREADY_EXISTS:
      return new UpstreamError('CONFLICT', details, via, 'client_error', false);
    case grpcStatus.FAILED_PRECONDITION:
      return new UpstreamError('UNPROCESSABLE', details, via, 'client_error', false);
    default: {
      const name = error.code === undefined ? 'UNKNOWN' : (grpcStatus[error.code] ?? String(error.code));
      return badAnswerError(via, `gRPC status ${name} (${details})`, 'server_error', error);
    }
  }
}

/** recipe-api may put the failing fields as JSON into the status details; plain text stays the message. */
function parseDetails(details: string): unknown {
  if (!details.startsWith('[') && !details.startsWith('{')) return undefined;
  try {
    return JSON.parse(details) as unknown;
  } catch {
    return undefined;
  }
}

export interface GraphqlError {
  message?: unknown;
  extensions?: { code?: unknown; details?: unknown; http?: { status?: unknown } };
}

/**
 * GraphQL errors (`errors[]` with `extensions.code`, the convention graphql-yoga and Apollo follow)
 * as what web-api answers. Parse and validation failures of web-api's own query are a contract
 * mismatch between the two services, so a 502, not the caller's 400.
 */
export function fromGraphqlErrors(errors: GraphqlError[], via: Via = 'graphql'): UpstreamError {
  const first = errors[0] ?? {};
  const message = typeof first.message === 'string' ? first.message : 'GraphQL error';
  const code = typeof first.extensions?.code === 'string' ? first.extensions.code : undefined;
  const details = first.extensions?.details;
  switch (code) {
    case 'NOT_FOUND':
      return new UpstreamError('NOT_FOUND', message, via, 'client_error', false);
    case 'BAD_USER_INPUT':
    case 'BAD_REQUEST':
    case 'VALIDATION_FAILED':
      return new UpstreamError('VALIDATION_FAILED', message, via, 'client_error', false, details);
    case 'CONFLICT':
      return new UpstreamError('CONFLICT', message, via, 'client_error', false);
    case 'UNAVAILABLE':
    case 'SERVICE_UNAVAILABLE':
      return unavailableError(via, message);
    case 'GRAPHQL_PARSE_FAILED':
    case 'GRAPHQL_VALIDATION_FAILED':
    case 'QUERY_TOO_DEEP':
    case 'QUERY_TOO_COMPLEX':
      return badAnswerError(via, `query rejected: ${message}`, 'client_error');
    default:
      return badAnswerError(via, `${code ?? 'GraphQL error'}: ${message}`, 'server_error');
  }
}
