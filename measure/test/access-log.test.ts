import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  istioTextFormat,
  countByStatusAndFlag,
  isUpstreamConnectionTermination,
  parseAccessLog,
  parseAccessLogLine,
} from '../src/access-log.js';

// Lines as the lab's recipe-api sidecar wrote them during a 503-uc run.
const ucLine =
  '[2026-11-23T16:41:07.091Z] "GET /recipes/42 HTTP/1.1" 503 UC upstream_reset_before_response_started{connection_termination} - "-" 0 95 3 - "-" "-" "e6b564b2-7bff-9381-942f-82a9171136b2" "127.0.0.1:40737" "127.0.0.1:39475" inbound|4000|| 127.0.0.1:38722 127.0.0.1:37157 127.0.0.1:44020 - default';
const okLine =
  '[2026-11-23T16:52:22.059Z] "GET /recipes/export HTTP/1.1" 200 - via_upstream - "-" 0 4749481 468 5 "-" "-" "ddce8209-455a-9d50-9449-8222f12470c7" "127.0.0.1:40829" "127.0.0.1:34271" inbound|4000|| 127.0.0.1:56106 127.0.0.1:35523 127.0.0.1:54560 - default';
const dcLine =
  '[2026-11-23T16:52:32.812Z] "GET /recipes/export HTTP/1.1" 200 DC downstream_remote_disconnect - "-" 0 2566938 210 6 "-" "curl/8.5" "7c6dd217-b86e-9447-a5b4-69a7ba38ee95" "127.0.0.1:40829" "127.0.0.1:34271" inbound|4000|| 127.0.0.1:47160 127.0.0.1:35523 127.0.0.1:54652 - default';
const transportLine =
  '[2026-11-23T10:00:00.000Z] "GET /api/recipes/1 HTTP/1.1" 503 UF,URX upstream_reset_before_response_started{remote_connection_failure|TLS_error:_268435581} - "TLS_error:_268435581:SSL_routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED" 0 190 12 - "10.0.0.1" "Mozilla/5.0 (X11; Linux)" "id-1" "web-api:3000" "10.0.0.9:3000" outbound|3000||web-api.default.svc.cluster.local - 10.0.0.2:8080 10.0.0.1:5000 - -';

test('reads response code, flags, details and addresses of an Istio-format line', () => {
  const e = parseAccessLogLine(ucLine)!;
  assert.equal(e.method, 'GET');
  assert.equal(e.path, '/recipes/42');
  assert.equal(e.protocol, 'HTTP/1.1');
  assert.equal(e.responseCode, 503);
  assert.deepEqual(e.responseFlags, ['UC']);
  assert.equal(e.responseCodeDetails, 'upstream_reset_before_response_started{connection_termination}');
  assert.equal(e.connectionTerminationDetails, null);
  assert.equal(e.upstreamTransportFailureReason, null);
  assert.equal(e.bytesSent, 95);
  assert.equal(e.durationMs, 3);
  assert.equal(e.upstreamServiceTimeMs, null);
  assert.equal(e.upstreamCluster, 'inbound|4000||');
  assert.equal(e.routeName, 'default');
  assert.equal(isUpstreamConnectionTermination(e), true);
});

test('reads several flags, quoted values with spaces and the transport failure reason', () => {
  const e = parseAccessLogLine(transportLine)!;
  assert.deepEqual(e.responseFlags, ['UF', 'URX']);
  assert.equal(
    e.upstreamTransportFailureReason,
    'TLS_error:_268435581:SSL_routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED',
  );
  assert.equal(e.userAgent, 'Mozilla/5.0 (X11; Linux)');
  assert.equal(e.upstreamCluster, 'outbound|3000||web-api.default.svc.cluster.local');
  assert.equal(e.routeName, null);
  // A 503 that is not a pooled-connection reset is not the 503 UC incident.
  assert.equal(isUpstreamConnectionTermination(e), false);
});

test('only 503 UC with connection_termination counts as the keep-alive race', () => {
  assert.equal(isUpstreamConnectionTermination(parseAccessLogLine(okLine)!), false);
  assert.equal(isUpstreamConnectionTermination(parseAccessLogLine(dcLine)!), false);
  const ucOtherReason = ucLine.replace('{connection_termination}', '{remote_reset}');
  assert.equal(isUpstreamConnectionTermination(parseAccessLogLine(ucOtherReason)!), false);
});

test('skips lines that are not access-log lines', () => {
  assert.equal(parseAccessLogLine(''), null);
  assert.equal(parseAccessLogLine('[2026-11-23 16:41:07.091][12][warning][config] something'), null);
  assert.equal(parseAccessLogLine('{"level":30,"msg":"request"}'), null);
  assert.equal(parseAccessLog(`${ucLine}\n\nnot a line\n${okLine}\n`).length, 2);
});

test("reads a line rendered from the lab's own format string (format drift guard)", () => {
  const values: Record<string, string> = {
    START_TIME: '2026-01-01T00:00:00.000Z',
    'REQ(:METHOD)': 'POST',
    'REQ(X-ENVOY-ORIGINAL-PATH?:PATH)': '/recipes/7/photo',
    PROTOCOL: 'HTTP/1.1',
    RESPONSE_CODE: '413',
    RESPONSE_FLAGS: '-',
    RESPONSE_CODE_DETAILS: 'via_upstream',
    CONNECTION_TERMINATION_DETAILS: '-',
    UPSTREAM_TRANSPORT_FAILURE_REASON: '-',
    BYTES_RECEIVED: '1048576',
    BYTES_SENT: '120',
    DURATION: '66',
    'RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)': '60',
    'REQ(X-FORWARDED-FOR)': '-',
    'REQ(USER-AGENT)': 'node',
    'REQ(X-REQUEST-ID)': 'abc',
    'REQ(:AUTHORITY)': '127.0.0.1:1',
    UPSTREAM_HOST: '127.0.0.1:2',
    UPSTREAM_CLUSTER_RAW: 'inbound|4000||',
    UPSTREAM_CLUSTER: 'inbound|4000||',
    UPSTREAM_LOCAL_ADDRESS: '127.0.0.1:3',
    DOWNSTREAM_LOCAL_ADDRESS: '127.0.0.1:4',
    DOWNSTREAM_REMOTE_ADDRESS: '127.0.0.1:5',
    REQUESTED_SERVER_NAME: '-',
    ROUTE_NAME: 'default',
  };
  const line = istioTextFormat.replace(/%([^%]+)%/g, (_, op: string) => {
    assert.ok(op in values, `format operator ${op} has no test value`);
    return values[op]!;
  });
  const e = parseAccessLogLine(line)!;
  assert.equal(e.method, 'POST');
  assert.equal(e.responseCode, 413);
  assert.deepEqual(e.responseFlags, []);
  assert.equal(e.bytesReceived, 1048576);
  assert.equal(e.upstreamServiceTimeMs, 60);
  assert.equal(e.upstreamCluster, 'inbound|4000||');
  assert.equal(e.routeName, 'default');
});

test('counts by status and flag, most frequent first', () => {
  const entries = parseAccessLog([okLine, ucLine, ucLine, dcLine].join('\n'));
  assert.deepEqual(Object.entries(countByStatusAndFlag(entries)), [
    ['503 UC', 2],
    ['200 -', 1],
    ['200 DC', 1],
  ]);
});
