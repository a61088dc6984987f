import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAccessLog } from '@recipe-mesh/measure/access-log';
import { parseScrape } from '@recipe-mesh/measure/metric-text';
import type { RequestRecord } from '@recipe-mesh/measure/requests';
import { catalogue } from '../src/catalogue.js';
import type { Experiment } from '../src/definition.js';
import {
  agreement,
  compareReadings,
  envoyStatValues,
  exactValues,
  sidecarLogArgs,
  sinceTime,
} from '../src/k8s-evidence.js';
import { forwardedPort } from '../src/k8s-forward.js';
import { ingressUrl, parseIngressFlag } from '../src/k8s-ingress.js';
import { containerRestarts, deploymentSelector, restartsBetween, servingPods } from '../src/k8s-pods.js';

/**
 * The k8s target's evidence path on recorded inputs (what kubectl printed on minikube): the
 * pods of a Deployment by its selector, kubectl port-forward's listening line, the gateway's
 * address, and exact counts from each pod's sidecar log and /metrics beside PromQL.
 */
const experiments = catalogue as Experiment<unknown>[];
const byName = (name: string) => experiments.find((e) => e.name === name)!;

test("a Deployment's pods are found by its own selector, matchExpressions included", () => {
  const deployment = {
    metadata: { name: 'recipe-api' },
    spec: {
      selector: {
        matchLabels: { app: 'recipe-api' },
        matchExpressions: [
          { key: 'tier', operator: 'In', values: ['api', 'edge'] },
          { key: 'canary', operator: 'DoesNotExist' },
        ],
      },
    },
  };
  assert.equal(deploymentSelector(JSON.stringify(deployment)), 'app=recipe-api,tier in (api,edge),!canary');
  assert.throws(() => deploymentSelector(JSON.stringify({ metadata: { name: 'x' }, spec: {} })), /no selector/);
});

test('the serving pods are the Running ones not being deleted, by name', () => {
  const pod = (name: string, phase: string, extra: object = {}) => ({
    metadata: { name, ...extra },
    status: { phase, conditions: [{ type: 'Ready', status: phase === 'Running' ? 'True' : 'False' }] },
  });
  const list = {
    items: [
      pod('recipe-api-b', 'Running'),
      pod('recipe-api-a', 'Running'),
      pod('recipe-api-old', 'Running', { deletionTimestamp: '2026-12-07T19:00:00Z' }),
      pod('recipe-api-new', 'Pending'),
    ],
  };
  assert.deepEqual(
    servingPods(JSON.stringify(list)).map((p) => [p.name, p.ready]),
    [
      ['recipe-api-a', true],
      ['recipe-api-b', true],
    ],
  );
});

test("kubectl port-forward's listening line gives the kernel-picked local port", () => {
  assert.equal(forwardedPort('Forwarding from 127.0.0.1:41235 -> 9465\n'), 41235);
  assert.equal(forwardedPort('Forwarding from [::1]:41235 -> 9465\n'), null);
  assert.equal(forwardedPort(''), null);
});

test("the ingress address is the gateway Service's load-balancer status, or --ingress", () => {
  const svc = (
    ingress: object[],
    ports = [
      { name: 'status-port', port: 15021 },
      { name: 'http2', port: 80 },
    ],
  ) =>
    JSON.stringify({
      metadata: { name: 'istio-ingressgateway', namespace: 'istio-system' },
      spec: { ports },
      status: { loadBalancer: { ingress } },
    });
  assert.equal(ingressUrl(svc([{ ip: '127.0.0.1' }])), 'http://127.0.0.1');
  assert.equal(ingressUrl(svc([{ ip: '10.96.0.40' }], [{ name: 'http2', port: 8081 }])), 'http://10.96.0.40:8081');
  assert.equal(ingressUrl(svc([{ hostname: 'gw.example' }])), 'http://gw.example');
  assert.throws(
    () => ingressUrl(svc([])),
    /istio-system\/istio-ingressgateway has no load-balancer address: run `minikube tunnel`/,
  );
  assert.equal(parseIngressFlag('http://127.0.0.1:8081'), 'http://127.0.0.1:8081');
  assert.throws(() => parseIngressFlag('127.0.0.1:8081'), /expected http/);
  assert.throws(() => parseIngressFlag('http://127.0.0.1/api'), /expected http/);
});

test('sidecar logs are read per pod from the setup time on, in RFC 3339', () => {
  const ms = Date.UTC(2026, 11, 7, 19, 30, 5, 750);
  assert.equal(sinceTime(ms), '2026-12-07T19:30:05Z');
  assert.deepEqual(sidecarLogArgs('web-api-1', ms), [
    'logs',
    'pod/web-api-1',
    '-c',
    'istio-proxy',
    '--since-time=2026-12-07T19:30:05Z',
  ]);
});

const at = (s: number) => `2026-12-07T19:30:${String(s).padStart(2, '0')}.000Z`;
/** web-api's sidecar, outbound to recipe-api, as Istio 1.30 logs it (TEXT format). */
const outbound = (s: number, status: string, flags: string) =>
  `[${at(s)}] "GET /recipes/42 HTTP/1.1" ${status} ${flags} via_upstream - "-" 0 95 1 1 "-" "node" "id-${s}" "recipe-api.recipe-mesh.svc.cluster.local:4000" "10.244.0.12:4000" outbound|4000|v1|recipe-api.recipe-mesh.svc.cluster.local 10.244.0.9:40212 10.96.0.20:4000 10.244.0.9:40210 - default`;

test("circuit-breaker's UO overflows are counted exactly over every web-api pod's sidecar log", () => {
  const breaker = byName('circuit-breaker');
  const logs = {
    'web-api-a': parseAccessLog([outbound(1, '200', '-'), outbound(2, '503', 'UO')].join('\n')),
    'web-api-b': parseAccessLog([outbound(3, '503', 'UO'), outbound(4, '200', '-'), 'not a log line'].join('\n')),
  };
  const load: RequestRecord[] = [200, 503, 0].map((status) => ({
    startedAtMs: 0,
    status,
    latencyMs: 1,
    flags: [],
    error: null,
    bytes: 0,
    burst: 0,
  }));
  const exact = exactValues(breaker.k8s, { accessLogs: { 'web-api': logs }, metrics: {}, load });
  // Envoy's admin was not read here: its counter has no data rather than 0.
  assert.deepEqual(exact, { uoOverflows: 2, outboundRequests: 4, callerNon2xx: 2, pendingOverflow: null });
  // No pod's log read at all: no data, never a silent 0.
  assert.equal(exactValues(breaker.k8s, { accessLogs: {}, metrics: {}, load }).uoOverflows, null);
});

test("a counter's rise is summed over each pod's own /metrics, before → after", () => {
  const dup = byName('post-retry-duplicates');
  const scrape = (n: number) => parseScrape(`# TYPE recipes_created_total counter\nrecipes_created_total ${n}\n`);
  const exact = exactValues(dup.k8s, {
    accessLogs: { 'recipe-api': {} },
    metrics: {
      'recipe-api': { a: { before: scrape(10), after: scrape(25) }, b: { before: scrape(3), after: scrape(9) } },
    },
    load: [],
  });
  assert.equal(exact.recipesCreated, 21);
});

test('PromQL beside the exact count: near agrees, a missed rare event disagrees, the verdict reads the exact count', () => {
  assert.ok(agreement(100, 104));
  assert.ok(agreement(0, 0.4));
  assert.ok(!agreement(1, 0));
  assert.ok(!agreement(100, 120));
  const uc = byName('503-uc');
  const rows = compareReadings(
    ['ucResets', 'inboundRequests', 'sidecarOnlyTrace', 'envoyRetries'],
    uc.k8s,
    { ucResets: 2, inboundRequests: 400 },
    [
      { name: 'ucResets', promql: 'q1', value: 0 },
      { name: 'inboundRequests', promql: 'q2', value: 398.5 },
      { name: 'envoyRetries', promql: 'q3', value: 4 },
    ],
  );
  assert.deepEqual(
    rows.map((r) => [r.key, r.value, r.agree]),
    [
      ['ucResets', 2, false],
      ['inboundRequests', 400, true],
      ['sidecarOnlyTrace', null, null],
      ['envoyRetries', 4, null],
    ],
  );
  assert.match(rows[0]!.note!, /PromQL reads 0, the exact count 2: they disagree/);
});

test('a container that restarted during the run is named with why it last ended (OOMKilled)', () => {
  const pods = (restarts: number, reason?: string) =>
    JSON.stringify({
      items: [
        {
          metadata: { name: 'recipe-api-a' },
          status: {
            containerStatuses: [
              {
                name: 'recipe-api',
                restartCount: restarts,
                ...(reason ? { lastState: { terminated: { reason } } } : {}),
              },
              { name: 'istio-proxy', restartCount: 0 },
            ],
          },
        },
      ],
    });
  assert.deepEqual(restartsBetween(containerRestarts(pods(0)), containerRestarts(pods(0))), []);
  assert.deepEqual(restartsBetween(containerRestarts(pods(1)), containerRestarts(pods(2, 'OOMKilled'))), [
    'pod recipe-api-a: container recipe-api restarted 1 time(s) during the run (last: OOMKilled)',
  ]);
});

test("Envoy's retries are counted from each pod's own admin, as the lab sums them", () => {
  const uc = byName('503-uc');
  const stats = (retries: number) =>
    envoyStatValues(
      JSON.stringify({
        stats: [
          {
            name: 'cluster.outbound|4000|v1|recipe-api.recipe-mesh.svc.cluster.local.upstream_rq_retry',
            value: retries,
          },
          { name: 'cluster.inbound|4000||.upstream_rq_retry', value: 0 },
          {
            name: 'cluster.outbound|4000|v1|recipe-api.recipe-mesh.svc.cluster.local.upstream_rq_retry_overflow',
            value: 1,
          },
          { name: 'listener.0.0.0.0_15006.downstream_cx_length_ms', histograms: {} },
        ],
      }),
    );
  const exact = exactValues(uc.k8s, {
    accessLogs: {},
    metrics: {},
    load: [],
    envoyStats: {
      'web-api': { a: { before: stats(2), after: stats(5) }, b: { before: stats(0), after: stats(1) } },
      'recipe-api': { c: { before: stats(0), after: stats(0) } },
    },
  });
  assert.equal(exact.envoyRetries, 4);
  const breaker = byName('circuit-breaker');
  const overflow = (n: number) => ({
    'cluster.outbound|4000|v1|recipe-api.recipe-mesh.svc.cluster.local.upstream_rq_pending_overflow': n,
  });
  assert.equal(
    exactValues(breaker.k8s, {
      accessLogs: {},
      metrics: {},
      load: [],
      envoyStats: { 'web-api': { a: { before: overflow(1), after: overflow(7) } } },
    }).pendingOverflow,
    6,
  );
  // Not read (the admin unreachable): no data, never 0.
  assert.equal(exactValues(uc.k8s, { accessLogs: {}, metrics: {}, load: [] }).envoyRetries, null);
});
