import assert from 'node:assert/strict';
import { test } from 'node:test';
import { descendants, findSidecarOnlyFailure, groupTraces, type TraceSpan } from '../src/evidence/trace.js';

const span = (
  id: string,
  parent: string | null,
  service: string,
  attributes: TraceSpan['attributes'] = {},
  traceId = 't1',
): TraceSpan => ({
  traceId,
  spanId: id,
  parentSpanId: parent,
  service,
  name: `${service} span`,
  startMs: 0,
  durationMs: 1,
  attributes,
});

// ingress → web-api sidecar → web-api → web-api sidecar (outbound) → recipe-api sidecar (UC) ; retry → recipe-api sidecar → recipe-api
const failedThenRetried = [
  span('a', null, 'istio-ingressgateway', { 'http.status_code': '200' }),
  span('b', 'a', 'web-api.default'),
  span('c', 'b', 'web-api'),
  span('d', 'c', 'web-api.default'),
  span('e', 'd', 'recipe-api.default', { 'http.status_code': '503', response_flags: 'UC' }),
  span('f', 'c', 'web-api.default'),
  span('g', 'f', 'recipe-api.default', { 'http.status_code': '200', response_flags: '-' }),
  span('h', 'g', 'recipe-api'),
];

test('finds the sidecar span that failed with UC and has no app span under it', () => {
  const found = findSidecarOnlyFailure([failedThenRetried], 'recipe-api.default', 'recipe-api');
  assert.equal(found?.span.spanId, 'e');
  assert.deepEqual(
    descendants(failedThenRetried, 'c')
      .map((s) => s.spanId)
      .sort(),
    ['d', 'e', 'f', 'g', 'h'],
  );
});

test('no match when the UC span has an app span below it, or when nothing failed with UC', () => {
  const appBelow = [...failedThenRetried.filter((s) => s.spanId !== 'h'), span('h', 'e', 'recipe-api')];
  const withoutG = appBelow.filter((s) => s.spanId !== 'g');
  assert.equal(findSidecarOnlyFailure([withoutG], 'recipe-api.default', 'recipe-api'), null);
  const healthy = failedThenRetried.map((s) =>
    s.spanId === 'e' ? { ...s, attributes: { 'http.status_code': '200', response_flags: '-' } } : s,
  );
  assert.equal(findSidecarOnlyFailure([healthy], 'recipe-api.default', 'recipe-api'), null);
  const otherFlag = failedThenRetried.map((s) =>
    s.spanId === 'e' ? { ...s, attributes: { 'http.status_code': '503', response_flags: 'UF' } } : s,
  );
  assert.equal(findSidecarOnlyFailure([otherFlag], 'recipe-api.default', 'recipe-api'), null);
});

test('groups spans by trace', () => {
  const traces = groupTraces([
    span('a', null, 'x', {}, 't1'),
    span('b', null, 'x', {}, 't2'),
    span('c', 'a', 'y', {}, 't1'),
  ]);
  assert.deepEqual(traces.map((t) => t.length).sort(), [1, 2]);
});
