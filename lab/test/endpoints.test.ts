import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assignmentsFor } from '../src/membership/controller.js';
import { defaultMesh } from '../src/mesh/description.js';
import { edsTargets, type Workloads } from '../src/mesh/endpoints.js';
import { proxyResources } from '../src/mesh/envoy-config.js';
import { defaultPorts } from '../src/ports.js';
import type { LabState, ProcessRecord } from '../src/process/state.js';
import { firstInstance, instanceOnPorts, parseReplicas, type InstanceInfo } from '../src/workloads/services.js';

const mesh = defaultMesh(defaultPorts);
const files = { configDir: '/lab/envoy/x', accessLog: '/lab/logs/x.access.log' };
type AnyJson = Record<string, any>;

let next = 20_000;
const second = instanceOnPorts('recipe-api', () => next++);
const twoRecipeApis: Workloads = {
  'web-api': { dynamic: false, instances: [{ name: 'web-api', info: firstInstance('web-api', defaultPorts) }] },
  'recipe-api': {
    dynamic: true,
    instances: [
      { name: 'recipe-api', info: firstInstance('recipe-api', defaultPorts) },
      { name: 'recipe-api-2', info: second },
    ],
  },
};

test('a further instance gets its own ports, and sidecar inbound ports after its app ports', () => {
  assert.deepEqual(second, {
    service: 'recipe-api',
    appPorts: { http: 20_000, grpc: 20_001, admin: 20_002 },
    inboundPorts: { 'inbound-http': 20_003, 'inbound-grpc': 20_004 },
  });
});

test("each instance has its own inbound listener and cluster on the service's sidecar; the first keeps its names", () => {
  const sidecar = proxyResources(mesh, 'recipe-api-sidecar', files, twoRecipeApis);
  assert.deepEqual(
    sidecar.listeners.map((l: AnyJson) => [l.name, l.address.socket_address.port_value]),
    [
      ['inbound-http', defaultPorts.recipeApiSidecarInboundHttp],
      ['inbound-http-recipe-api-2', 20_003],
      ['inbound-grpc', defaultPorts.recipeApiSidecarInboundGrpc],
      ['inbound-grpc-recipe-api-2', 20_004],
    ],
  );
  assert.deepEqual(
    sidecar.clusters.map((c: AnyJson) => [
      c.name,
      c.type,
      c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value,
    ]),
    [
      ['inbound|4000||', 'STATIC', defaultPorts.recipeApi],
      ['inbound|4000||recipe-api-2', 'STATIC', 20_000],
      ['inbound|4001||', 'STATIC', defaultPorts.recipeApiGrpc],
      ['inbound|4001||recipe-api-2', 'STATIC', 20_001],
    ],
  );
});

test("the caller's outbound clusters of a service with membership are EDS clusters reading file-based EDS", () => {
  const caller = proxyResources(mesh, 'web-api-sidecar', files, twoRecipeApis);
  const byName = new Map(caller.clusters.map((c: AnyJson) => [c.name, c]));
  const http = byName.get('outbound|4000|v1|recipe-api.recipe-mesh.svc.cluster.local') as AnyJson;
  assert.equal(http.type, 'EDS');
  assert.equal(http.load_assignment, undefined);
  assert.deepEqual(http.eds_cluster_config.eds_config.path_config_source, {
    path: '/lab/envoy/x/eds/outbound-recipe-api-http.json',
    watched_directory: { path: '/lab/envoy/x/eds' },
  });
  assert.equal((byName.get('outbound|4001|v1|recipe-api.recipe-mesh.svc.cluster.local') as AnyJson).type, 'EDS');
  // web-api has no membership: the ingress keeps its static cluster.
  const ingress = proxyResources(mesh, 'ingress', files, twoRecipeApis);
  assert.equal((ingress.clusters[0] as AnyJson).type, 'STATIC');
  assert.deepEqual(
    edsTargets(mesh, ['recipe-api']).map((t) => [t.proxy, t.listener, t.inboundListener]),
    [
      ['web-api-sidecar', 'outbound-recipe-api-http', 'inbound-http'],
      ['web-api-sidecar', 'outbound-recipe-api-grpc', 'inbound-grpc'],
    ],
  );
});

test("the controller publishes the members' inbound ports per caller cluster, and none when none is a member", () => {
  const record = (name: string, instance: InstanceInfo): ProcessRecord => ({
    name,
    kind: 'app',
    pid: 1,
    startTicks: null,
    command: [],
    log: '',
    ports: [],
    url: null,
    readyUrl: null,
    instance,
  });
  const state = {
    membership: { services: ['recipe-api'], readiness: {}, propagationDelayMs: 500 },
    processes: [record('recipe-api', firstInstance('recipe-api', defaultPorts)), record('recipe-api-2', second)],
  } as unknown as LabState;
  const ports = (assignment: AnyJson) =>
    (assignment.endpoints[0]?.lb_endpoints ?? []).map((e: AnyJson) => e.endpoint.address.socket_address.port_value);
  const only2 = assignmentsFor(mesh, state, ['recipe-api-2']).get('web-api-sidecar')!;
  assert.deepEqual(ports(only2.get('outbound-recipe-api-http.json')!), [20_003]);
  assert.deepEqual(ports(only2.get('outbound-recipe-api-grpc.json')!), [20_004]);
  const both = assignmentsFor(mesh, state, ['recipe-api', 'recipe-api-2']).get('web-api-sidecar')!;
  assert.deepEqual(ports(both.get('outbound-recipe-api-http.json')!), [
    defaultPorts.recipeApiSidecarInboundHttp,
    20_003,
  ]);
  const none = assignmentsFor(mesh, state, []).get('web-api-sidecar')!;
  assert.deepEqual((none.get('outbound-recipe-api-http.json') as AnyJson).endpoints, []);
});

test('without membership every service is its one instance: the configs are those of a lab without replicas', () => {
  const single: Workloads = {
    'web-api': { dynamic: false, instances: [{ name: 'web-api', info: firstInstance('web-api', defaultPorts) }] },
    'recipe-api': {
      dynamic: false,
      instances: [{ name: 'recipe-api', info: firstInstance('recipe-api', defaultPorts) }],
    },
  };
  for (const proxy of mesh.proxies) {
    assert.deepEqual(proxyResources(mesh, proxy.name, files, single), proxyResources(mesh, proxy.name, files));
  }
});

test('--replicas flags: repeatable or comma-separated, known services, at least 1', () => {
  assert.deepEqual(parseReplicas(['recipe-api=2']), { 'recipe-api': 2 });
  assert.deepEqual(parseReplicas(['recipe-api=3,web-api=2']), { 'recipe-api': 3, 'web-api': 2 });
  assert.throws(() => parseReplicas(['redis=2']), /expected <service>=<n>/);
  assert.throws(() => parseReplicas(['recipe-api=0']), /n ≥ 1/);
});
