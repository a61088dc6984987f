import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { requireBinary } from '@recipe-mesh/measure/binaries';
import { istioTextFormat, parseAccessLogLine, countByResponseFlags } from '@recipe-mesh/measure/access-log';
import {
  defaultMesh,
  findListener,
  parseIstioVersion,
  patchListener,
  withIstioVersion,
} from '../src/mesh/description.js';
import { clusterConfig, routeConfiguration, staticBootstrap } from '../src/mesh/envoy-config.js';
import { defaultPorts } from '../src/ports.js';
import { tempStateDir } from './helpers.js';

const mesh = defaultMesh(defaultPorts);
type AnyJson = Record<string, any>;

test('inbound clusters speak HTTP/1.1 to the app with Istio’s 1 h idle timeout; the gRPC port uses HTTP/2', () => {
  const http = clusterConfig(
    findListener(mesh, 'recipe-api-sidecar', 'inbound-http').upstream,
    undefined,
    'inbound',
  ) as AnyJson;
  const options = http.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
  assert.equal(http.name, 'inbound|4000||');
  assert.equal(options.common_http_protocol_options.idle_timeout, '3600s');
  assert.deepEqual(options.explicit_http_config, { http_protocol_options: {} });
  assert.equal(http.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value, 4000);
  const grpc = clusterConfig(
    findListener(mesh, 'recipe-api-sidecar', 'inbound-grpc').upstream,
    undefined,
    'inbound',
  ) as AnyJson;
  assert.deepEqual(
    grpc.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']
      .explicit_http_config,
    { http2_protocol_options: {} },
  );
});

test('outbound routes carry Istio’s default retry policy (503 only before 1.24); inbound routes retry reset-before-request only from 1.24', () => {
  const outbound = routeConfiguration(
    mesh,
    findListener(mesh, 'web-api-sidecar', 'outbound-recipe-api-http'),
  ) as AnyJson;
  const retry = outbound.virtual_hosts[0].routes[0].route.retry_policy;
  // istiod keeps `retriable-status-codes` in retry_on with no codes from 1.24: no status is retried.
  assert.equal(retry.retry_on, 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes');
  assert.equal(retry.num_retries, 2);
  assert.equal(retry.retriable_status_codes ?? undefined, undefined);
  assert.equal(retry.host_selection_retry_max_attempts, 5);
  assert.equal(outbound.virtual_hosts[0].routes[0].route.timeout, '0s');

  assert.equal(mesh.istioVersion, '1.30');
  const inbound = routeConfiguration(mesh, findListener(mesh, 'recipe-api-sidecar', 'inbound-http')) as AnyJson;
  assert.deepEqual(inbound.virtual_hosts[0].routes[0].route.retry_policy, {
    retry_on: 'reset-before-request',
    num_retries: 2,
  });
  // Not on the gRPC port, as istiod 1.30 renders it.
  const inboundGrpc = routeConfiguration(mesh, findListener(mesh, 'recipe-api-sidecar', 'inbound-grpc')) as AnyJson;
  assert.equal(inboundGrpc.virtual_hosts[0].routes[0].route.retry_policy, undefined);
  const at124 = withIstioVersion(mesh, parseIstioVersion('1.24.0'));
  assert.equal(
    (routeConfiguration(at124, findListener(at124, 'web-api-sidecar', 'inbound-http')) as AnyJson).virtual_hosts[0]
      .routes[0].route.retry_policy.retry_on,
    'reset-before-request',
  );
  assert.throws(() => parseIstioVersion('2.0'), /must look like 1.30/);
  const old = withIstioVersion(mesh, '1.23');
  const inbound123 = routeConfiguration(old, findListener(old, 'recipe-api-sidecar', 'inbound-http')) as AnyJson;
  assert.equal(inbound123.virtual_hosts[0].routes[0].route.retry_policy, undefined);
  // Before 1.24 outbound routes also retried 503 (istio/istio#52111 removed it).
  const outbound123 = routeConfiguration(
    old,
    findListener(old, 'web-api-sidecar', 'outbound-recipe-api-http'),
  ) as AnyJson;
  const retry123 = outbound123.virtual_hosts[0].routes[0].route.retry_policy;
  assert.equal(retry123.retry_on, 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes');
  assert.deepEqual(retry123.retriable_status_codes, [503]);
});

test('knobs: faults on the route, circuit breakers and outlier detection on the cluster; patches leave the original alone', () => {
  const changed = patchListener(mesh, 'web-api-sidecar', 'outbound-recipe-api-http', {
    route: { fault: { delay: { fixedDelayMs: 250, percent: 12.5 }, abort: { grpcStatus: 14, percent: 100 } } },
    upstream: {
      circuitBreakers: { maxConnections: 1, maxPendingRequests: 2, maxRequests: 3, maxRetries: 4 },
      outlierDetection: {
        consecutive5xx: 0,
        consecutiveGatewayErrors: 5,
        intervalMs: 1000,
        baseEjectionTimeMs: 30_000,
        maxEjectionPercent: 100,
      },
      idleTimeoutMs: 4000,
    },
  });
  const listener = findListener(changed, 'web-api-sidecar', 'outbound-recipe-api-http');
  const route = routeConfiguration(changed, listener) as AnyJson;
  const fault = route.virtual_hosts[0].routes[0].typed_per_filter_config['envoy.filters.http.fault'];
  assert.deepEqual(fault.delay, { fixed_delay: '0.25s', percentage: { numerator: 125_000, denominator: 'MILLION' } });
  assert.deepEqual(fault.abort, { grpc_status: 14, percentage: { numerator: 1_000_000, denominator: 'MILLION' } });
  const cluster = clusterConfig(listener.upstream) as AnyJson;
  assert.deepEqual(cluster.circuit_breakers.thresholds[0], {
    priority: 'DEFAULT',
    max_connections: 1,
    max_pending_requests: 2,
    max_requests: 3,
    max_retries: 4,
  });
  // With every host ejected: 503 UH, as istiod sets it, not Envoy's panic routing.
  assert.deepEqual(cluster.common_lb_config, { healthy_panic_threshold: { value: 0 } });
  assert.equal(cluster.outlier_detection.enforcing_consecutive_5xx, 0);
  assert.equal(cluster.outlier_detection.consecutive_gateway_failure, 5);
  assert.equal(cluster.outlier_detection.base_ejection_time, '30s');
  assert.equal(
    findListener(mesh, 'web-api-sidecar', 'outbound-recipe-api-http').route.fault,
    null,
    'original unchanged',
  );
  const plain = routeConfiguration(mesh, findListener(mesh, 'web-api-sidecar', 'outbound-recipe-api-http')) as AnyJson;
  assert.equal(plain.virtual_hosts[0].routes[0].typed_per_filter_config, undefined);
});

test('the access-log format is Istio’s, with response flags and the transport failure reason, and parses back', () => {
  assert.match(
    istioTextFormat,
    /%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%"/,
  );
  // Lines as Envoy 1.40 wrote them in the lab: a success, and the 503 UC of the incident.
  const ok = parseAccessLogLine(
    '[2026-11-23T16:22:49.769Z] "GET /recipes/42 HTTP/1.1" 200 - via_upstream - "-" 0 28 1 1 "-" "-" "61eb0d6f-8010-95c8-b008-7d5e599fdd52" "127.0.0.1:35091" "127.0.0.1:34411" inbound|4000|| 127.0.0.1:38458 127.0.0.1:40811 127.0.0.1:53604 - default',
  );
  assert.ok(ok);
  assert.equal(ok.responseCode, 200);
  assert.deepEqual(ok.responseFlags, []);
  assert.equal(ok.upstreamCluster, 'inbound|4000||');
  assert.equal(ok.startMs, Date.parse('2026-11-23T16:22:49.769Z'));
  const uc = parseAccessLogLine(
    '[2026-11-23T16:30:00.001Z] "GET /recipes/7 HTTP/1.1" 503 UC upstream_reset_before_response_started{connection_termination} - "-" 0 95 4 - "-" "autocannon" "id-1" "127.0.0.1:15106" "127.0.0.1:4000" inbound|4000|| 127.0.0.1:50000 127.0.0.1:15106 127.0.0.1:40000 - default',
  );
  assert.ok(uc);
  assert.deepEqual(uc.responseFlags, ['UC']);
  assert.equal(uc.responseCodeDetails, 'upstream_reset_before_response_started{connection_termination}');
  assert.equal(uc.upstreamServiceTimeMs, null);
  assert.deepEqual(countByResponseFlags([ok, uc, uc]), { '-': 1, UC: 2 });
  assert.equal(parseAccessLogLine('not an access log line'), null);
});

const envoy = requireBinary('envoy');
test('every generated proxy config passes `envoy --mode validate`, knobs turned on', {
  skip: 'skip' in envoy ? envoy.skip : false,
}, (t) => {
  const dir = tempStateDir(t);
  const everything = patchListener(mesh, 'recipe-api-sidecar', 'inbound-http', {
    route: {
      fault: { delay: { fixedDelayMs: 100, percent: 50 }, abort: { httpStatus: 503, percent: 1 } },
      timeoutMs: 15_000,
    },
    upstream: {
      outlierDetection: { consecutive5xx: 3, intervalMs: 1000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 100 },
      maxRequestsPerConnection: 100,
    },
  });
  for (const proxy of everything.proxies) {
    const file = path.join(dir, `${proxy.name}.json`);
    writeFileSync(
      file,
      JSON.stringify(
        staticBootstrap(everything, proxy.name, { configDir: dir, accessLog: path.join(dir, `${proxy.name}.log`) }),
      ),
    );
    const out = execFileSync(
      (envoy as { path: string }).path,
      ['--mode', 'validate', '-c', file, '--disable-hot-restart', '--log-level', 'error'],
      { encoding: 'utf8' },
    );
    assert.match(out, /OK/, proxy.name);
  }
  // And a config Envoy must refuse, so the check above can fail.
  const bad = path.join(dir, 'bad.json');
  const broken = patchListener(mesh, 'ingress', 'gateway-http', {
    route: { fault: { abort: { httpStatus: 42, percent: 100 } } },
  });
  writeFileSync(
    bad,
    JSON.stringify(staticBootstrap(broken, 'ingress', { configDir: dir, accessLog: path.join(dir, 'bad.log') })),
  );
  assert.throws(() =>
    execFileSync(
      (envoy as { path: string }).path,
      ['--mode', 'validate', '-c', bad, '--disable-hot-restart', '--log-level', 'error'],
      { stdio: 'pipe' },
    ),
  );
});

test('a route timeout is rendered so Envoy applies it, as Istio does; headers.request.set become request_headers_to_add', () => {
  const listener = findListener(mesh, 'ingress', 'gateway-http');
  const plain = (routeConfiguration(mesh, listener) as AnyJson).virtual_hosts[0].routes[0];
  // The ingress VirtualService's 15 s, bounding gRPC deadlines too (max_grpc_timeout).
  assert.equal(plain.route.timeout, '15s');
  assert.equal(plain.route.max_grpc_timeout, '15s');
  assert.equal(plain.request_headers_to_add, undefined);
  // Without a timeout, max_grpc_timeout 0s: a gRPC deadline header bounds the route, unlimited.
  const outbound = (
    routeConfiguration(mesh, findListener(mesh, 'web-api-sidecar', 'outbound-recipe-api-grpc')) as AnyJson
  ).virtual_hosts[0].routes[0];
  assert.equal(outbound.route.max_grpc_timeout, '0s');
  const changed = patchListener(mesh, 'ingress', 'gateway-http', {
    route: { timeoutMs: 1000, requestHeaders: { 'x-request-timeout-ms': '1000' } },
  });
  const timed = (routeConfiguration(changed, findListener(changed, 'ingress', 'gateway-http')) as AnyJson)
    .virtual_hosts[0].routes[0];
  assert.equal(timed.route.timeout, '1s');
  // max_stream_duration would switch Envoy to its "new timeouts", which ignore `timeout`.
  assert.equal(timed.route.max_stream_duration, undefined);
  assert.equal(timed.route.max_grpc_timeout, '1s');
  assert.deepEqual(timed.request_headers_to_add, [
    { header: { key: 'x-request-timeout-ms', value: '1000' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
  ]);
});
