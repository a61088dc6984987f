import * as grpc from '@grpc/grpc-js';
import { AppError, type ErrorCode } from '@recipe-mesh/platform/errors';

/** The shared error catalogue in gRPC terms (grpc.io "Status codes and their use in gRPC"). */
const grpcCodeOf: Record<ErrorCode, grpc.status> = {
  BAD_REQUEST: grpc.status.INVALID_ARGUMENT,
  VALIDATION_FAILED: grpc.status.INVALID_ARGUMENT,
  // An idempotency key reused with other input: the request is fine, the system state forbids it.
  UNPROCESSABLE: grpc.status.FAILED_PRECONDITION,
  NOT_FOUND: grpc.status.NOT_FOUND,
  METHOD_NOT_ALLOWED: grpc.status.UNIMPLEMENTED,
  PAYLOAD_TOO_LARGE: grpc.status.RESOURCE_EXHAUSTED,
  UNSUPPORTED_MEDIA_TYPE: grpc.status.INVALID_ARGUMENT,
  CONFLICT: grpc.status.ALREADY_EXISTS,
  UNAUTHORIZED: grpc.status.UNAUTHENTICATED,
  UNAVAILABLE: grpc.status.UNAVAILABLE,
  UPSTREAM_TIMEOUT: grpc.status.DEADLINE_EXCEEDED,
  UPSTREAM_UNAVAILABLE: grpc.status.UNAVAILABLE,
  UPSTREAM_ERROR: grpc.status.UNAVAILABLE,
  INTERNAL: grpc.status.INTERNAL,
};

/** An injected HTTP error status in gRPC terms (grpc's doc/http-grpc-status-mapping.md). */
export function grpcCodeOfHttpStatus(status: number): grpc.status {
  switch (status) {
    case 400:
      return grpc.status.INTERNAL;
    case 401:
      return grpc.status.UNAUTHENTICATED;
    case 403:
      return grpc.status.PERMISSION_DENIED;
    case 404:
      return grpc.status.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return grpc.status.UNAVAILABLE;
    default:
      return grpc.status.UNKNOWN;
  }
}

export class InjectedFaultError extends Error {
  constructor(readonly httpStatus: number) {
    super(`fault injected: status ${httpStatus}`);
  }
}

export type StatusError = Partial<grpc.StatusObject> & { code: grpc.status; details: string };

/** Any thrown error as a gRPC status; unexpected ones become INTERNAL without their message. */
export function toGrpcStatus(error: unknown): StatusError {
  if (error instanceof AppError) {
    const details = Array.isArray(error.details)
      ? `${error.message}: ${(error.details as { path: string; message: string }[]).map((d) => `${d.path}: ${d.message}`).join('; ')}`
      : error.message;
    return { code: grpcCodeOf[error.code], details };
  }
  if (error instanceof InjectedFaultError)
    return { code: grpcCodeOfHttpStatus(error.httpStatus), details: error.message };
  return { code: grpc.status.INTERNAL, details: 'internal error' };
}

export const grpcCodeName = (code: grpc.status): string => grpc.status[code] ?? String(code);
