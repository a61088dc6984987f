import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata, status as grpcStatus } from '@grpc/grpc-js';
import {
  encodeErrorMetadata,
  errorCodes,
  errorContract,
  errorMetadataKey,
  grpcStatusOf,
  httpStatusOf,
  relayedCodeOf,
} from '@recipe-mesh/platform/error-contract';
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

test('every code of the table is one public answer whichever protocol carried it', () => {
  for (const code of errorCodes) {
    const stated = { message: `recipe-api says ${code}`, details: { example: code } };
    const grpcMetadata = new Metadata();
    grpcMetadata.set(errorMetadataKey, encodeErrorMetadata({ code, ...stated }));
    const answers = {
      http: fromHttpStatus(httpStatusOf[code], { error: { code, ...stated } }, 'http'),
      graphql: fromGraphqlErrors([{ message: stated.message, extensions: { code, details: stated.details } }]),
      grpc: fromGrpcError({ code: grpcStatusOf[code], details: 'readable text', metadata: grpcMetadata }),
    };
    const relayed = relayedCodeOf(code);
    const passedOn = relayed === code && errorContract[code].relayedAs === 'as-is';
    for (const [via, error] of Object.entries(answers)) {
      const body = upstreamErrorBody(error).error;
      assert.deepEqual(
        { status: error.status, code: body.code, message: body.message, details: body.details, via: body.via },
        {
          status: httpStatusOf[relayed],
          code: relayed,
          // The caller's mistakes keep recipe-api's words; web-api's own answers have the table's.
          message: passedOn ? stated.message : errorContract[relayed].message,
          details: passedOn ? stated.details : undefined,
          via,
        },
        `${code} over ${via}`,
      );
    }
  }
});

test('a client mistake stays a 4xx: the reused Idempotency-Key is 422 with its details on every protocol', () => {
  const details = { idempotencyKey: 'k-1' };
  const message = 'Idempotency-Key was already used with a different request body';
  const metadata = new Metadata();
  metadata.set(errorMetadataKey, encodeErrorMetadata({ code: 'UNPROCESSABLE', message, details }));
  for (const error of [
    fromHttpStatus(422, { error: { code: 'UNPROCESSABLE', message, details } }, 'http'),
    fromGraphqlErrors([{ message, extensions: { code: 'UNPROCESSABLE', details } }]),
    fromGrpcError({ code: grpcStatus.FAILED_PRECONDITION, details: message, metadata }),
  ]) {
    expectMapped(error, 422, 'UNPROCESSABLE', 'client_error', false);
    assert.equal(error.message, message);
    assert.deepEqual(error.details, details);
  }
});

test('bare statuses (a proxy, the gRPC library, an injected fault) map by the table where it is unambiguous', () => {
  const injected = { error: { code: 'INJECTED_FAULT', message: 'fault injected: status 503' } };
  const bare = (code: grpcStatus) => fromGrpcError({ code, details: 'from grpc-js or a proxy' });
  const cases: [UpstreamError, number, string, string, boolean][] = [
    [fromHttpStatus(503, undefined, 'graphql'), 503, 'UPSTREAM_UNAVAILABLE', 'unavailable', true],
    [fromHttpStatus(503, injected, 'http'), 503, 'UPSTREAM_UNAVAILABLE', 'unavailable', true],
    [fromHttpStatus(504, undefined, 'http'), 504, 'UPSTREAM_TIMEOUT', 'timeout', false],
    [fromHttpStatus(413, undefined, 'http'), 413, 'PAYLOAD_TOO_LARGE', 'client_error', false],
    // A bare 400 (Envoy's codec) or 405 says web-api sent something wrong.
    [fromHttpStatus(400, undefined, 'http'), 502, 'UPSTREAM_ERROR', 'client_error', false],
    [fromHttpStatus(405, undefined, 'http'), 502, 'UPSTREAM_ERROR', 'client_error', false],
    // A code the table gives another status is not believed: the status is read bare.
    [
      fromHttpStatus(404, { error: { code: 'UNPROCESSABLE', message: 'x' } }, 'http'),
      404,
      'NOT_FOUND',
      'client_error',
      false,
    ],
    [fromHttpStatus(500, { error: { message: 'boom' } }, 'http'), 502, 'UPSTREAM_ERROR', 'server_error', false],
    [bare(grpcStatus.DEADLINE_EXCEEDED), 504, 'UPSTREAM_TIMEOUT', 'timeout', false],
    [bare(grpcStatus.UNAVAILABLE), 503, 'UPSTREAM_UNAVAILABLE', 'unavailable', true],
    [bare(grpcStatus.RESOURCE_EXHAUSTED), 413, 'PAYLOAD_TOO_LARGE', 'client_error', false],
    [bare(grpcStatus.INVALID_ARGUMENT), 502, 'UPSTREAM_ERROR', 'server_error', false],
    [fromGraphqlErrors([{ message: 'Unexpected error.' }]), 502, 'UPSTREAM_ERROR', 'server_error', false],
    [
      fromGraphqlErrors([{ message: 'Cannot query field "x"', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }]),
      502,
      'UPSTREAM_ERROR',
      'client_error',
      false,
    ],
  ];
  for (const [error, status, code, outcome, retryable] of cases) expectMapped(error, status, code, outcome, retryable);
  const internal = fromGrpcError({ code: grpcStatus.INTERNAL, details: 'boom' });
  expectMapped(internal, 502, 'UPSTREAM_ERROR', 'server_error', false);
  assert.equal(internal.message, 'unexpected answer from recipe-api', "recipe-api's words stay in the log");
  assert.match(internal.reason, /INTERNAL \(boom\)/);
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

test('the error body names the upstream and the protocol', () => {
  assert.deepEqual(upstreamErrorBody(fromHttpStatus(503, undefined, 'grpc')), {
    error: {
      code: 'UPSTREAM_UNAVAILABLE',
      message: 'recipe-api is unavailable',
      upstream: 'recipe-api',
      via: 'grpc',
    },
  });
  const withDetails = upstreamErrorBody(
    fromHttpStatus(400, { error: { code: 'VALIDATION_FAILED', message: 'invalid recipe', details: ['d'] } }, 'http'),
  );
  assert.deepEqual(withDetails.error.details, ['d']);
});
