import { test } from 'node:test';
import assert from 'node:assert/strict';
import { status as grpcStatus } from '@grpc/grpc-js';
import { errors as undiciErrors } from 'undici';
import {
  UpstreamError,
  fromGraphqlErrors,
  fromGrpcError,
  fromHttpStatus,
  fromTransportError,
  upstreamErrorBody,
} from '../src/upstream/errors.js';

const expectMapped = (error: UpstreamError, status: number, code: string, outcome: string, retryable: boolean) => {
  assert.ok(error instanceof UpstreamError);
  assert.deepEqual(
    { status: error.status, code: error.code, outcome: error.outcome, retryable: error.retryable },
    { status, code, outcome, retryable },
  );
};

test('upstream HTTP statuses: 404 and 400 pass through, 503 is retryable 503, 504 is 504, other 5xx are 502', () => {
  expectMapped(
    fromHttpStatus(404, { error: { code: 'NOT_FOUND', message: 'recipe 7 not found' } }, 'http'),
    404,
    'NOT_FOUND',
    'client_error',
    false,
  );
  const invalid = fromHttpStatus(
    400,
    { error: { code: 'VALIDATION_FAILED', message: 'invalid recipe', details: [{ path: 'name' }] } },
    'http',
  );
  expectMapped(invalid, 400, 'VALIDATION_FAILED', 'client_error', false);
  assert.equal(invalid.message, 'invalid recipe');
  assert.deepEqual(invalid.details, [{ path: 'name' }]);
  expectMapped(
    fromHttpStatus(400, { error: { code: 'BAD_REQUEST', message: 'x' } }, 'http'),
    400,
    'BAD_REQUEST',
    'client_error',
    false,
  );
  expectMapped(fromHttpStatus(409, undefined, 'http'), 409, 'CONFLICT', 'client_error', false);
  expectMapped(fromHttpStatus(503, undefined, 'graphql'), 503, 'UPSTREAM_UNAVAILABLE', 'unavailable', true);
  expectMapped(fromHttpStatus(504, undefined, 'http'), 504, 'UPSTREAM_TIMEOUT', 'timeout', false);
  expectMapped(
    fromHttpStatus(500, { error: { message: 'boom' } }, 'http'),
    502,
    'UPSTREAM_ERROR',
    'server_error',
    false,
  );
  expectMapped(fromHttpStatus(502, 'not json', 'http'), 502, 'UPSTREAM_ERROR', 'server_error', false);
  // A 401/405 means web-api called recipe-api wrongly: not the caller's fault.
  expectMapped(fromHttpStatus(405, undefined, 'http'), 502, 'UPSTREAM_ERROR', 'client_error', false);
});

test('transport errors: refused/reset connections are retryable 503, deadlines are 504, the rest 502', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4000'), { code: 'ECONNREFUSED' });
  expectMapped(fromTransportError(refused, 'http'), 503, 'UPSTREAM_UNAVAILABLE', 'unavailable', true);
  expectMapped(
    fromTransportError(new undiciErrors.SocketError('other side closed'), 'http'),
    503,
    'UPSTREAM_UNAVAILABLE',
    'unavailable',
    true,
  );
  expectMapped(
    fromTransportError(new AggregateError([refused]), 'http'),
    503,
    'UPSTREAM_UNAVAILABLE',
    'unavailable',
    true,
  );
  expectMapped(
    fromTransportError(new undiciErrors.ConnectTimeoutError(), 'graphql'),
    503,
    'UPSTREAM_UNAVAILABLE',
    'unavailable',
    true,
  );
  expectMapped(
    fromTransportError(new DOMException('timed out', 'TimeoutError'), 'http'),
    504,
    'UPSTREAM_TIMEOUT',
    'timeout',
    false,
  );
  expectMapped(
    fromTransportError(new undiciErrors.HeadersTimeoutError(), 'http'),
    504,
    'UPSTREAM_TIMEOUT',
    'timeout',
    false,
  );
  expectMapped(fromTransportError(new Error('something odd'), 'http'), 502, 'UPSTREAM_ERROR', 'server_error', false);
  const already = fromHttpStatus(404, undefined, 'http');
  assert.equal(fromTransportError(already, 'http'), already, 'an UpstreamError is kept as it is');
});

test('gRPC status codes map like their HTTP counterparts', () => {
  expectMapped(
    fromGrpcError({ code: grpcStatus.DEADLINE_EXCEEDED, details: 'Deadline exceeded' }),
    504,
    'UPSTREAM_TIMEOUT',
    'timeout',
    false,
  );
  expectMapped(
    fromGrpcError({ code: grpcStatus.UNAVAILABLE, details: 'No connection established' }),
    503,
    'UPSTREAM_UNAVAILABLE',
    'unavailable',
    true,
  );
  expectMapped(
    fromGrpcError({ code: grpcStatus.NOT_FOUND, details: 'recipe 7 not found' }),
    404,
    'NOT_FOUND',
    'client_error',
    false,
  );
  const invalid = fromGrpcError({
    code: grpcStatus.INVALID_ARGUMENT,
    details: '[{"path":"name","message":"Required"}]',
  });
  expectMapped(invalid, 400, 'VALIDATION_FAILED', 'client_error', false);
  assert.deepEqual(invalid.details, [{ path: 'name', message: 'Required' }]);
  expectMapped(
    fromGrpcError({ code: grpcStatus.INVALID_ARGUMENT, details: 'name: Required' }),
    400,
    'VALIDATION_FAILED',
    'client_error',
    false,
  );
  expectMapped(
    fromGrpcError({ code: grpcStatus.INTERNAL, details: 'boom' }),
    502,
    'UPSTREAM_ERROR',
    'server_error',
    false,
  );
  assert.match(fromGrpcError({ code: grpcStatus.INTERNAL, details: 'boom' }).message, /INTERNAL/);
});

test('GraphQL extensions.code maps to statuses; a rejected query is a 502 contract mismatch', () => {
  expectMapped(
    fromGraphqlErrors([{ message: 'recipe 7 not found', extensions: { code: 'NOT_FOUND' } }]),
    404,
    'NOT_FOUND',
    'client_error',
    false,
  );
  expectMapped(
    fromGraphqlErrors([{ message: 'bad', extensions: { code: 'BAD_USER_INPUT' } }]),
    400,
    'VALIDATION_FAILED',
    'client_error',
    false,
  );
  expectMapped(
    fromGraphqlErrors([{ message: 'down', extensions: { code: 'UNAVAILABLE' } }]),
    503,
    'UPSTREAM_UNAVAILABLE',
    'unavailable',
    true,
  );
  expectMapped(
    fromGraphqlErrors([{ message: 'Cannot query field "x"', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }]),
    502,
    'UPSTREAM_ERROR',
    'client_error',
    false,
  );
  expectMapped(fromGraphqlErrors([{ message: 'Unexpected error.' }]), 502, 'UPSTREAM_ERROR', 'server_error', false);
});

test('the error body names the upstream and the protocol', () => {
  assert.deepEqual(upstreamErrorBody(fromHttpStatus(503, undefined, 'grpc')), {
    error: {
      code: 'UPSTREAM_UNAVAILABLE',
      message: 'recipe-api is unavailable: status 503',
      upstream: 'recipe-api',
      via: 'grpc',
    },
  });
  const withDetails = upstreamErrorBody(
    fromHttpStatus(400, { error: { message: 'invalid recipe', details: ['d'] } }, 'http'),
  );
  assert.deepEqual(withDetails.error.details, ['d']);
});
