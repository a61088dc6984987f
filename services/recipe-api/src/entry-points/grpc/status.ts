import * as grpc from '@grpc/grpc-js';
import { AppError } from '@recipe-mesh/platform/errors';
import { encodeErrorMetadata, errorMetadataKey, grpcStatusOf } from '@recipe-mesh/platform/error-contract';

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

/**
 * Any thrown error as a gRPC status; unexpected ones become INTERNAL without their message. A coded
 * error's status code comes from the shared table (platform/error-contract.ts) and the error itself
 * travels in its metadata, so a client tells VALIDATION_FAILED from BAD_REQUEST and gets the same
 * details as over REST; the status message stays readable for grpcurl (the failing fields spelled out).
 */
export function toGrpcStatus(error: unknown, metadata: grpc.Metadata = new grpc.Metadata()): StatusError {
  if (error instanceof AppError) {
    const details = Array.isArray(error.details)
      ? `${error.message}: ${(error.details as { path: string; message: string }[]).map((d) => `${d.path}: ${d.message}`).join('; ')}`
      : error.message;
    metadata.set(
      errorMetadataKey,
      encodeErrorMetadata({
        code: error.code,
        message: error.message,
        ...(error.details === undefined ? {} : { details: error.details }),
      }),
    );
    return { code: grpcStatusOf[error.code], details, metadata };
  }
  if (error instanceof InjectedFaultError)
    return { code: grpcCodeOfHttpStatus(error.httpStatus), details: error.message, metadata };
  return { code: grpc.status.INTERNAL, details: 'internal error', metadata };
}

export const grpcCodeName = (code: grpc.status): string => grpc.status[code] ?? String(code);
