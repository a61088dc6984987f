import { status as grpcStatus } from '@grpc/grpc-js';

/**
 * The one error table of the platform: every coded error, what each protocol of recipe-api answers
 * for it and what web-api answers when recipe-api said it. recipe-api answers from it on REST (the
 * HTTP status), GraphQL (`extensions.code`) and gRPC (the status code, plus the code itself in
 * `errorMetadataKey`), and web-api translates each protocol's answer back through it, so a code
 * added here exists on every protocol at once, and one missing a column does not compile.
 *
 * gRPC codes follow grpc.io "Status codes and their use in gRPC" and, for statuses that came from
 * HTTP, grpc/grpc doc/http-grpc-status-mapping.md.
 */
export interface ErrorContractEntry {
  /** recipe-api's REST status, and web-api's when it passes the code on (`relayedAs: 'as-is'`). */
  http: number;
  grpc: grpcStatus;
  /**
   * What web-api answers its own caller when recipe-api answered this code:
   * - `as-is`: the caller's mistake (the body or key web-api forwarded): same code, status,
   *   message and details, whichever protocol carried it.
   * - `UPSTREAM_UNAVAILABLE` / `UPSTREAM_TIMEOUT`: recipe-api could not do it now (503 / 504).
   * - `UPSTREAM_ERROR`: recipe-api failed, or rejected a request web-api built itself (its
   *   method, media type or GraphQL query): nothing the caller can change, so a 502.
   */
  relayedAs: 'as-is' | 'UPSTREAM_UNAVAILABLE' | 'UPSTREAM_TIMEOUT' | 'UPSTREAM_ERROR';
  /** The message when the answer states none (a bare status from a proxy or the gRPC library). */
  message: string;
}

export const errorContract = {
  BAD_REQUEST: {
    http: 400,
    grpc: grpcStatus.INVALID_ARGUMENT,
    relayedAs: 'as-is',
    message: 'bad request',
  },
  VALIDATION_FAILED: {
    http: 400,
    grpc: grpcStatus.INVALID_ARGUMENT,
    relayedAs: 'as-is',
    message: 'invalid input',
  },
  // An idempotency key reused with other input: the request is fine, the system state forbids it.
  UNPROCESSABLE: {
    http: 422,
    grpc: grpcStatus.FAILED_PRECONDITION,
    relayedAs: 'as-is',
    message: 'Idempotency-Key was already used with a different request body',
  },
  NOT_FOUND: { http: 404, grpc: grpcStatus.NOT_FOUND, relayedAs: 'as-is', message: 'not found' },
  METHOD_NOT_ALLOWED: {
    http: 405,
    grpc: grpcStatus.UNIMPLEMENTED,
    relayedAs: 'UPSTREAM_ERROR',
    message: 'method not allowed',
  },
  // What grpc-js answers a message above the server's grpc.max_receive_message_length.
  PAYLOAD_TOO_LARGE: {
    http: 413,
    grpc: grpcStatus.RESOURCE_EXHAUSTED,
    relayedAs: 'as-is',
    message: 'request body too large',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    http: 415,
    grpc: grpcStatus.INVALID_ARGUMENT,
    relayedAs: 'UPSTREAM_ERROR',
    message: 'unsupported media type',
  },
  CONFLICT: {
    http: 409,
    grpc: grpcStatus.ALREADY_EXISTS,
    relayedAs: 'as-is',
    message: 'a request with the same Idempotency-Key is in progress',
  },
  UNAUTHORIZED: {
    http: 401,
    grpc: grpcStatus.UNAUTHENTICATED,
    relayedAs: 'UPSTREAM_ERROR',
    message: 'unauthorized',
  },
  UNAVAILABLE: {
    http: 503,
    grpc: grpcStatus.UNAVAILABLE,
    relayedAs: 'UPSTREAM_UNAVAILABLE',
    message: 'unavailable',
  },
  // GraphQL-only rejections of a query's shape; on the other protocols the request cannot have one.
  GRAPHQL_VALIDATION_FAILED: {
    http: 400,
    grpc: grpcStatus.INVALID_ARGUMENT,
    relayedAs: 'UPSTREAM_ERROR',
    message: 'GraphQL query invalid',
  },
  QUERY_TOO_DEEP: {
    http: 400,
    grpc: grpcStatus.INVALID_ARGUMENT,
    relayedAs: 'UPSTREAM_ERROR',
    message: 'query too deep',
  },
  QUERY_TOO_COMPLEX: {
    http: 400,
    grpc: grpcStatus.INVALID_ARGUMENT,
    relayedAs: 'UPSTREAM_ERROR',
    message: 'query too complex',
  },
  // web-api's own answers for a failing recipe-api (502/503/504, with `upstream` and `via`).
  UPSTREAM_TIMEOUT: {
    http: 504,
    grpc: grpcStatus.DEADLINE_EXCEEDED,
    relayedAs: 'UPSTREAM_TIMEOUT',
    message: 'recipe-api did not answer in time',
  },
  UPSTREAM_UNAVAILABLE: {
    http: 503,
    grpc: grpcStatus.UNAVAILABLE,
    relayedAs: 'UPSTREAM_UNAVAILABLE',
    message: 'recipe-api is unavailable',
  },
  UPSTREAM_ERROR: {
    http: 502,
    grpc: grpcStatus.INTERNAL,
    relayedAs: 'UPSTREAM_ERROR',
    message: 'unexpected answer from recipe-api',
  },
  INTERNAL: { http: 500, grpc: grpcStatus.INTERNAL, relayedAs: 'UPSTREAM_ERROR', message: 'internal error' },
} as const satisfies Record<string, ErrorContractEntry>;

export type ErrorCode = keyof typeof errorContract;
export const errorCodes = Object.keys(errorContract) as ErrorCode[];

export const isErrorCode = (value: unknown): value is ErrorCode =>
  typeof value === 'string' && Object.hasOwn(errorContract, value);

const column = <T>(pick: (entry: ErrorContractEntry) => T) =>
  Object.fromEntries(errorCodes.map((code) => [code, pick(errorContract[code])])) as Record<ErrorCode, T>;

export const httpStatusOf: Record<ErrorCode, number> = column((entry) => entry.http);
export const grpcStatusOf: Record<ErrorCode, grpcStatus> = column((entry) => entry.grpc);
/** GraphQL carries the code itself as `extensions.code` (the convention of graphql-yoga and Apollo). */
export const graphqlCodeOf = (code: ErrorCode): string => code;

/**
 * gRPC trailing metadata with the coded error as UTF-8 JSON `{ code, message, details? }`: a
 * status code alone cannot tell VALIDATION_FAILED from BAD_REQUEST (both INVALID_ARGUMENT) nor
 * carry structured details (the failing fields, the reused Idempotency-Key). A `-bin` key, so any
 * text travels (gRPC over HTTP/2 spec, "Custom-Metadata").
 */
export const errorMetadataKey = 'recipe-mesh-error-bin';

export interface CodedError {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

export function encodeErrorMetadata(error: CodedError): Buffer {
  return Buffer.from(JSON.stringify(error), 'utf8');
}

/** The coded error in `errorMetadataKey`, when it is there and names a code of the table. */
export function decodeErrorMetadata(value: unknown): CodedError | undefined {
  if (!Buffer.isBuffer(value)) return undefined;
  try {
    const parsed = JSON.parse(value.toString('utf8')) as Partial<CodedError> | null;
    if (!parsed || !isErrorCode(parsed.code) || typeof parsed.message !== 'string') return undefined;
    return {
      code: parsed.code,
      message: parsed.message,
      ...(parsed.details === undefined ? {} : { details: parsed.details }),
    };
  } catch {
    return undefined;
  }
}

/** The code web-api answers for `code` when it passes recipe-api's answer on. */
export const relayedCodeOf = (code: ErrorCode): ErrorCode => {
  const { relayedAs } = errorContract[code];
  return relayedAs === 'as-is' ? code : relayedAs;
};

/**
 * The code a bare status stands for (no coded body, no error metadata: a proxy's or the gRPC
 * library's own answer): the one the table gives that status, when every code with it is relayed
 * the same way (503 → UPSTREAM_UNAVAILABLE, 413 → PAYLOAD_TOO_LARGE); undefined when they differ
 * (a bare 400 or INVALID_ARGUMENT says nothing about whose mistake it was).
 */
function bareCodes<K extends number>(statusOf: (entry: ErrorContractEntry) => K): Map<K, ErrorCode> {
  const byStatus = new Map<K, ErrorCode[]>();
  for (const code of errorCodes) {
    const key = statusOf(errorContract[code]);
    byStatus.set(key, [...(byStatus.get(key) ?? []), code]);
  }
  const unique = new Map<K, ErrorCode>();
  for (const [key, codes] of byStatus) if (new Set(codes.map(relayedCodeOf)).size === 1) unique.set(key, codes[0]!);
  return unique;
}

const bareHttp = bareCodes((entry) => entry.http);
const bareGrpc = bareCodes((entry) => entry.grpc);
export const codeOfBareHttpStatus = (status: number): ErrorCode | undefined => bareHttp.get(status);
export const codeOfBareGrpcStatus = (status: grpcStatus): ErrorCode | undefined => bareGrpc.get(status);
