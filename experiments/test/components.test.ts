import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { ListenerPatch } from '@recipe-mesh/lab/mesh/description';
import { callerBudgetHeader } from '@recipe-mesh/web-api/upstream/deadline';
import { appKeepAliveMs, proxyIdleTimeoutMs } from '../src/incidents/503-uc.js';
import {
  durationMs,
  readComponent,
  supportedFields,
  translateComponent,
  UnsupportedMeshFieldError,
} from '../src/mesh/components.js';

/** A repo root with one component `istio/faults/<name>` holding `patch` on `kind/name`. */
function fakeRoot(t: { after(fn: () => void): void }, kind: string, name: string, patch: string): string {
  const root = mkdtempSync(path.join(tmpdir(), 'components-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(path.join(root, 'istio/faults/x'), { recursive: true });
  const indented = patch
    .trim()
    .split('\n')
    .map((l) => `      ${l}`)
    .join('\n');
  writeFileSync(
    path.join(root, 'istio/faults/x/kustomization.yaml'),
    `apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n  - target:\n      kind: ${kind}\n      name: ${name}\n    patch: |-\n${indented}\n`,
  );
  return root;
}

test('Istio durations', () => {
  assert.equal(durationMs('250ms'), 250);
  assert.equal(durationMs('3s'), 3000);
  assert.equal(durationMs('1h'), 3_600_000);
  assert.equal(durationMs('1m30s'), 90_000);
  assert.throws(() => durationMs('soon'), /not an Istio duration/);
  assert.throws(() => durationMs(5), /not an Istio duration/);
});

/** A DestinationRule connectionPool change: web-api's outbound clusters to recipe-api and recipe-api's inbound ones. */
const bothEnds = (patch: ListenerPatch) => [
  ...['outbound-recipe-api-http', 'outbound-recipe-api-grpc'].map((listener) => ({
    proxy: 'web-api-sidecar',
    listener,
    patch,
  })),
  ...['inbound-http', 'inbound-grpc'].map((listener) => ({ proxy: 'recipe-api-sidecar', listener, patch })),
];

test('DestinationRule connectionPool.http.idleTimeout → the caller’s outbound and the server sidecar’s inbound clusters', (t) => {
  const root = fakeRoot(
    t,
    'DestinationRule',
    'recipe-api',
    '- op: replace\n  path: /spec/trafficPolicy/connectionPool/http/idleTimeout\n  value: 4s',
  );
  assert.deepEqual(translateComponent('x', root), bothEnds({ upstream: { idleTimeoutMs: 4000 } }));
});

test('DestinationRule connectionPool.http.maxRequestsPerConnection → both ends’ cluster limit', (t) => {
  const root = fakeRoot(
    t,
    'DestinationRule',
    'recipe-api',
    '- op: add\n  path: /spec/trafficPolicy/connectionPool/http/maxRequestsPerConnection\n  value: 1',
  );
  assert.deepEqual(translateComponent('x', root), bothEnds({ upstream: { maxRequestsPerConnection: 1 } }));
  const bad = fakeRoot(
    t,
    'DestinationRule',
    'recipe-api',
    '- op: add\n  path: /spec/trafficPolicy/connectionPool/http/maxRequestsPerConnection\n  value: -1',
  );
  assert.throws(() => translateComponent('x', bad), /whole number/);
});

test("VirtualService http/1 retries → web-api's outbound gRPC route", (t) => {
  const root = fakeRoot(
    t,
    'VirtualService',
    'recipe-api',
    '- op: add\n  path: /spec/http/1/retries\n  value:\n    attempts: 2\n    retryOn: unavailable,resource-exhausted',
  );
  assert.deepEqual(translateComponent('x', root), [
    {
      proxy: 'web-api-sidecar',
      listener: 'outbound-recipe-api-grpc',
      patch: {
        route: {
          retries: {
            retryOn: 'unavailable,resource-exhausted',
            numRetries: 2,
            retriableStatusCodes: [],
            perTryTimeoutMs: 0,
          },
        },
      },
    },
  ]);
});

test('a field without a lab translation is a clear error naming the field and what is supported', (t) => {
  const root = fakeRoot(
    t,
    'VirtualService',
    'recipe-api',
    '- op: add\n  path: /spec/http/0/mirror\n  value:\n    host: elsewhere',
  );
  assert.throws(
    () => translateComponent('x', root),
    (error: unknown) =>
      error instanceof UnsupportedMeshFieldError &&
      error.message.includes(
        'istio/faults/x: VirtualService/recipe-api add /spec/http/0/mirror has no lab equivalent',
      ) &&
      error.message.includes(supportedFields[0]!),
  );
  assert.throws(() => translateComponent('does-not-exist'), /no mesh component istio\/faults\/does-not-exist/);
});

test('503-uc takes its proxy idle timeout from istio/faults/idle-timeout, below the app keep-alive', () => {
  const [patch] = readComponent('idle-timeout');
  assert.equal(patch?.kind, 'DestinationRule');
  assert.equal(proxyIdleTimeoutMs, durationMs(patch?.ops[0]?.value));
  assert.ok(proxyIdleTimeoutMs < appKeepAliveMs, `${proxyIdleTimeoutMs} ms < ${appKeepAliveMs} ms`);
  assert.deepEqual(
    translateComponent('idle-timeout').find((c) => c.proxy === 'recipe-api-sidecar' && c.listener === 'inbound-http'),
    {
      proxy: 'recipe-api-sidecar',
      listener: 'inbound-http',
      patch: { upstream: { idleTimeoutMs: proxyIdleTimeoutMs } },
    },
  );
});

test('a whole DestinationRule connectionPool → the same limits on the client’s outbound and the server’s inbound clusters', () => {
  const changes = translateComponent('circuit-breaker');
  const outbound = changes.filter((c) => c.proxy === 'web-api-sidecar');
  assert.deepEqual(
    outbound.map((c) => c.listener),
    ['outbound-recipe-api-http', 'outbound-recipe-api-grpc', 'outbound-recipe-api-http', 'outbound-recipe-api-grpc'],
  );
  const breakers = outbound.find((c) => c.patch.upstream?.circuitBreakers)?.patch.upstream;
  assert.deepEqual(breakers?.circuitBreakers, {
    maxConnections: 1,
    maxPendingRequests: 1,
    maxRequests: 1,
    maxRetries: 4294967295,
  });
  assert.equal(breakers?.connectTimeoutMs, 2000);
  const ejection = outbound.find((c) => c.patch.upstream?.outlierDetection)?.patch.upstream?.outlierDetection;
  assert.deepEqual(ejection, {
    consecutive5xx: 1,
    intervalMs: 1000,
    baseEjectionTimeMs: 30_000,
    maxEjectionPercent: 100,
  });
  const inbound = changes.filter((c) => c.proxy === 'recipe-api-sidecar');
  assert.deepEqual(
    inbound.map((c) => c.listener),
    ['inbound-http', 'inbound-grpc'],
  );
  for (const c of inbound) assert.deepEqual(c.patch, changes.find((o) => o.proxy === 'web-api-sidecar')?.patch);
  assert.equal(breakers?.idleTimeoutMs, 3_600_000);
  assert.equal(breakers?.maxRequestsPerConnection, 0);
});

test('a connectionPool field the lab cannot translate is refused, not dropped', (t) => {
  const root = fakeRoot(
    t,
    'DestinationRule',
    'recipe-api',
    '- op: replace\n  path: /spec/trafficPolicy/connectionPool\n  value:\n    tcp:\n      maxConnections: 4\n      tcpKeepalive:\n        time: 7200s',
  );
  assert.throws(() => translateComponent('x', root), /connectionPool.tcp: tcpKeepalive has no lab equivalent/);
  const od = fakeRoot(
    t,
    'DestinationRule',
    'recipe-api',
    '- op: replace\n  path: /spec/trafficPolicy/outlierDetection\n  value:\n    splitExternalLocalOriginErrors: true',
  );
  assert.throws(() => translateComponent('x', od), /outlierDetection: splitExternalLocalOriginErrors/);
});

test('VirtualService recipe-api route timeout → the route of web-api sidecar towards recipe-api', (t) => {
  const root = fakeRoot(t, 'VirtualService', 'recipe-api', '- op: add\n  path: /spec/http/0/timeout\n  value: 3s');
  assert.deepEqual(translateComponent('x', root), [
    { proxy: 'web-api-sidecar', listener: 'outbound-recipe-api-http', patch: { route: { timeoutMs: 3000 } } },
  ]);
  const bad = fakeRoot(t, 'VirtualService', 'recipe-api', '- op: add\n  path: /spec/http/0/timeout\n  value: 3');
  assert.throws(() => translateComponent('x', bad), /not an Istio duration/);
});

test('VirtualService recipe-api route retries → Envoy retry policy: attempts, perTryTimeout, retryOn with codes', (t) => {
  const root = fakeRoot(
    t,
    'VirtualService',
    'recipe-api',
    '- op: add\n  path: /spec/http/0/retries\n  value:\n    attempts: 3\n    perTryTimeout: 1s\n    retryOn: connect-failure,reset,503',
  );
  assert.deepEqual(translateComponent('x', root), [
    {
      proxy: 'web-api-sidecar',
      listener: 'outbound-recipe-api-http',
      patch: {
        route: {
          retries: {
            retryOn: 'connect-failure,reset,retriable-status-codes',
            numRetries: 3,
            retriableStatusCodes: [503],
            perTryTimeoutMs: 1000,
          },
        },
      },
    },
  ]);
  const unknown = fakeRoot(
    t,
    'VirtualService',
    'recipe-api',
    '- op: add\n  path: /spec/http/0/retries\n  value:\n    attempts: 1\n    retryRemoteLocalities: true',
  );
  assert.throws(() => translateComponent('x', unknown), /retries: retryRemoteLocalities has no lab equivalent/);
});

test('VirtualService web-api-ingress route timeout → the ingress gateway route to web-api', (t) => {
  const root = fakeRoot(
    t,
    'VirtualService',
    'web-api-ingress',
    '- op: replace\n  path: /spec/http/0/timeout\n  value: 1s',
  );
  assert.deepEqual(translateComponent('x', root), [
    { proxy: 'ingress', listener: 'gateway-http', patch: { route: { timeoutMs: 1000 } } },
  ]);
});

test('timeout-budget: the incident nests 3 tries of 1 s in a 3 s route; its fix says the 1 s budget at the edge', () => {
  const [route] = translateComponent('timeout-budget').map((c) => c.patch.route);
  assert.equal(route?.timeoutMs, 3000);
  const retriesPolicy = translateComponent('timeout-budget')[1]?.patch.route?.retries;
  assert.deepEqual(retriesPolicy, {
    retryOn: 'gateway-error,connect-failure,refused-stream',
    numRetries: 2,
    retriableStatusCodes: [],
    perTryTimeoutMs: 1000,
  });
  const [nestedTimeout, nestedRetries, ...edge] = translateComponent('timeout-budget-edge');
  assert.deepEqual([nestedTimeout, nestedRetries], translateComponent('timeout-budget'), 'the fix keeps the route');
  assert.deepEqual(edge, [
    { proxy: 'ingress', listener: 'gateway-http', patch: { route: { timeoutMs: 1000 } } },
    {
      proxy: 'ingress',
      listener: 'gateway-http',
      patch: { route: { requestHeaders: { [callerBudgetHeader]: '1000' } } },
    },
  ]);
  assert.equal(
    edge[1]?.patch.route?.requestHeaders?.[callerBudgetHeader],
    String(edge[0]?.patch.route?.timeoutMs),
    'the budget web-api is told is the route timeout',
  );
});

test('VirtualService web-api-ingress headers.request.set → headers the gateway route sets; other header ops refused', (t) => {
  const root = fakeRoot(
    t,
    'VirtualService',
    'web-api-ingress',
    '- op: add\n  path: /spec/http/0/headers\n  value:\n    request:\n      set:\n        x-request-timeout-ms: "1000"',
  );
  assert.deepEqual(translateComponent('x', root), [
    {
      proxy: 'ingress',
      listener: 'gateway-http',
      patch: { route: { requestHeaders: { 'x-request-timeout-ms': '1000' } } },
    },
  ]);
  const remove = fakeRoot(
    t,
    'VirtualService',
    'web-api-ingress',
    '- op: add\n  path: /spec/http/0/headers\n  value:\n    request:\n      remove: [x-debug]',
  );
  assert.throws(() => translateComponent('x', remove), /headers.request: remove has no lab equivalent/);
  const response = fakeRoot(
    t,
    'VirtualService',
    'web-api-ingress',
    '- op: add\n  path: /spec/http/0/headers\n  value:\n    response:\n      set:\n        x-a: b',
  );
  assert.throws(() => translateComponent('x', response), /headers: response has no lab equivalent/);
});

test('VirtualService faults → the route’s fault filter config: delay and HTTP / gRPC abort on a percentage', () => {
  const [rest, grpc] = translateComponent('abort');
  assert.deepEqual(rest, {
    proxy: 'web-api-sidecar',
    listener: 'outbound-recipe-api-http',
    patch: { route: { fault: { abort: { httpStatus: 503, percent: 10 } } } },
  });
  assert.deepEqual(grpc?.patch.route?.fault, { abort: { grpcStatus: 14, percent: 10 } });
  const [delay] = translateComponent('delay');
  assert.deepEqual(delay?.patch.route?.fault, { delay: { fixedDelayMs: 500, percent: 50 } });
});
