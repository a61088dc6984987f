import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readContracts, servedAdminPaths } from './lib/contracts.js';
import * as refs from './lib/crossrefs.js';
import { meshInstall } from './lib/istio-install.js';
import { buildCombination, buildDefault, combinations } from './lib/kustomize.js';
import { find, type K8sObject } from './lib/objects.js';

const contracts = readContracts();
const install = meshInstall();
const served = servedAdminPaths();

function allProblems(objects: K8sObject[]): string[] {
  return [
    ...refs.deploymentSelectorProblems(objects),
    ...refs.serviceProblems(objects),
    ...refs.disruptionBudgetProblems(objects),
    ...refs.serviceAccountProblems(objects),
    ...refs.configReferenceProblems(objects),
    ...refs.serviceEnvProblems(objects, contracts),
    ...refs.probeProblems(objects, contracts, served),
    ...refs.virtualServiceProblems(objects),
    ...refs.destinationRuleProblems(objects),
    ...refs.gatewayProblems(objects, install),
    ...refs.authorizationProblems(objects, install),
    ...refs.adminIsolationProblems(objects, contracts),
    ...refs.telemetryProblems(objects, install),
  ];
}

/** The rendered platform with one object changed. */
function with_(kind: string, name: string, change: (o: any) => void): K8sObject[] {
  const objects = buildDefault();
  const target = find(objects, kind, name);
  assert.ok(target, `${kind} ${name} exists`);
  change(target);
  return objects;
}
const container = (o: any, i = 0) => o.spec.template.spec.containers[i];
const env = (o: any, name: string) => container(o).env.find((e: any) => e.name === name);

describe('cross-references', () => {
  test("the contracts module gives the names the checks use, with the schemas' ports", () => {
    assert.deepEqual(contracts.services, [
      { name: 'web-api', trafficPorts: [3000], adminPort: 9464 },
      { name: 'recipe-api', trafficPorts: [4000, 4001], adminPort: 9465 },
    ]);
    assert.equal(contracts.containerPortNames.admin, 'http-admin');
    assert.deepEqual(contracts.servicePortNames, ['http-web', 'http-api', 'grpc-api']);
    assert.equal(contracts.envDefaults.SHUTDOWN_DRAIN_DELAY_MS, '5000');
  });

  test('the admin server serves every admin path of the contracts', () => {
    assert.ok(served, 'services/platform/src/admin-server.ts exists');
    assert.deepEqual(
      contracts.adminPaths.filter((p) => p !== '/faults'),
      [...served],
    );
  });

  test('every key recipe-api reads may be set by a manifest; a typo may not', () => {
    // These were missing from the hand-kept list docs/contracts.md once was.
    for (const key of [
      'GRAPHQL_MAX_COST',
      'GRAPHQL_MAX_DEPTH',
      'IDEMPOTENCY_TTL_SECONDS',
      'REDIS_COMMAND_TIMEOUT_MS',
      'REDIS_CONNECT_TIMEOUT_MS',
      'REDIS_RECONNECT_MAX_DELAY_MS',
      'SCAN_COUNT',
    ]) {
      const objects = with_('Deployment', 'recipe-api', (o) => container(o).env.push({ name: key, value: '7' }));
      assert.deepEqual(refs.serviceEnvProblems(objects, contracts), [], key);
    }
    const typo = with_('Deployment', 'recipe-api', (o) => container(o).env.push({ name: 'SCAN_COUNTS', value: '7' }));
    assert.match(refs.serviceEnvProblems(typo, contracts).join(), /SCAN_COUNTS is not a variable/);
  });

  for (const combination of combinations()) {
    test(`everything resolves in ${combination.name}`, () => {
      assert.deepEqual(allProblems(buildCombination(combination)), []);
    });
  }

  test('Service port names are the ones the contracts give', () => {
    const names = buildDefault()
      .filter((o) => o.kind === 'Service' && ['web-api', 'recipe-api'].includes(o.metadata.name))
      .flatMap((s) => s.spec.ports.map((p: any) => p.name));
    assert.deepEqual(names.sort(), [...contracts.servicePortNames].sort());
  });

  const broken: [string, () => K8sObject[], RegExp, (o: K8sObject[]) => string[]][] = [
    [
      'a Deployment selector that misses its pods',
      () =>
        with_('Deployment', 'web-api', (o) => {
          o.spec.selector.matchLabels.app = 'web';
        }),
      /selector .* does not match its pod labels/,
      refs.deploymentSelectorProblems,
    ],
    [
      'a Service selecting no pods',
      () =>
        with_('Service', 'recipe-api', (o) => {
          o.spec.selector = { app: 'recipes' };
        }),
      /matches no pod template/,
      refs.serviceProblems,
    ],
    [
      'a Service targetPort naming no container port',
      () =>
        with_('Service', 'web-api', (o) => {
          o.spec.ports[0].targetPort = 'web';
        }),
      /targetPort web is not a container port/,
      refs.serviceProblems,
    ],
    [
      'a Service port name Istio cannot read',
      () =>
        with_('Service', 'recipe-api', (o) => {
          o.spec.ports[1].name = 'api-grpc';
        }),
      /does not tell Istio the protocol/,
      refs.serviceProblems,
    ],
    [
      'a PDB that blocks every drain',
      () =>
        with_('PodDisruptionBudget', 'web-api', (o) => {
          o.spec.minAvailable = 2;
        }),
      /blocks every node drain/,
      refs.disruptionBudgetProblems,
    ],
    [
      'a missing ServiceAccount',
      () =>
        with_('Deployment', 'recipe-api', (o) => {
          o.spec.template.spec.serviceAccountName = 'recipes';
        }),
      /ServiceAccount recipes does not exist/,
      refs.serviceAccountProblems,
    ],
    [
      'a binding to a missing ServiceAccount',
      () =>
        with_('ClusterRoleBinding', 'recipe-mesh-prometheus', (o) => {
          o.subjects[0].name = 'prom';
        }),
      /ServiceAccount recipe-mesh\/prom does not exist/,
      refs.serviceAccountProblems,
    ],
    [
      'a missing ConfigMap',
      () =>
        with_('Deployment', 'tempo', (o) => {
          o.spec.template.spec.volumes[0].configMap.name = 'tempo';
        }),
      /ConfigMap tempo does not exist/,
      refs.configReferenceProblems,
    ],
    [
      'a missing Secret key',
      () =>
        with_('Deployment', 'grafana', (o) => {
          env(o, 'GF_SECURITY_ADMIN_PASSWORD').valueFrom.secretKeyRef.key = 'password';
        }),
      /has no key password/,
      refs.configReferenceProblems,
    ],
    [
      'an env address naming no Service',
      () =>
        with_('Deployment', 'recipe-api', (o) => {
          env(o, 'REDIS_URL').value = 'redis://cache:6379';
        }),
      /REDIS_URL names cache, which is no Service/,
      (o) => refs.serviceEnvProblems(o, contracts),
    ],
    [
      'an env address on a port the Service lacks',
      () =>
        with_('Deployment', 'web-api', (o) => {
          env(o, 'RECIPE_API_GRPC_TARGET').value = 'recipe-api:50051';
        }),
      /uses port 50051/,
      (o) => refs.serviceEnvProblems(o, contracts),
    ],
    [
      'an env variable the services do not read',
      () =>
        with_('Deployment', 'web-api', (o) => {
          env(o, 'SHUTDOWN_DRAIN_DELAY_MS').name = 'SHUTDOWN_DRAIN_MS';
        }),
      /SHUTDOWN_DRAIN_MS is not a variable/,
      (o) => refs.serviceEnvProblems(o, contracts),
    ],
    [
      'a probe on the traffic port',
      () =>
        with_('Deployment', 'web-api', (o) => {
          container(o).readinessProbe.httpGet.port = 'http';
        }),
      /readinessProbe uses port http, not the admin port/,
      (o) => refs.probeProblems(o, contracts, served),
    ],
    [
      'a probe path the admin server does not serve',
      () =>
        with_('Deployment', 'recipe-api', (o) => {
          container(o).livenessProbe.httpGet.path = '/healthz';
        }),
      /livenessProbe path is \/healthz/,
      (o) => refs.probeProblems(o, contracts, served),
    ],
    [
      'a missing startup probe',
      () =>
        with_('Deployment', 'recipe-api', (o) => {
          delete container(o).startupProbe;
        }),
      /no HTTP startupProbe/,
      (o) => refs.probeProblems(o, contracts, served),
    ],
    [
      'an admin port other than the contract',
      () =>
        with_('Deployment', 'web-api', (o) => {
          container(o).ports[1].containerPort = 9000;
        }),
      /admin port is 9000, docs\/contracts.md says 9464/,
      (o) => refs.probeProblems(o, contracts, served),
    ],
    [
      'a VirtualService destination that is no Service',
      () =>
        with_('VirtualService', 'web-api-ingress', (o) => {
          o.spec.http[0].route[0].destination.host = 'web.recipe-mesh.svc.cluster.local';
        }),
      /destination web\.recipe-mesh\.svc\.cluster\.local is no Service/,
      refs.virtualServiceProblems,
    ],
    [
      'a VirtualService destination port the Service lacks',
      () =>
        with_('VirtualService', 'recipe-api', (o) => {
          o.spec.http[1].route[0].destination.port.number = 4002;
        }),
      /port 4002 is not a port/,
      refs.virtualServiceProblems,
    ],
    [
      'a VirtualService naming a missing Gateway',
      () =>
        with_('VirtualService', 'web-api-ingress', (o) => {
          o.spec.gateways = ['ingress'];
        }),
      /Gateway ingress does not exist/,
      refs.virtualServiceProblems,
    ],
    [
      'a subset no DestinationRule defines',
      () =>
        with_('VirtualService', 'recipe-api', (o) => {
          o.spec.http[0].route[0].destination.subset = 'v2';
        }),
      /subset v2 .* is defined by no DestinationRule/,
      refs.virtualServiceProblems,
    ],
    [
      'a mesh host that is no Service',
      () =>
        with_('VirtualService', 'recipe-api', (o) => {
          o.spec.hosts = ['recipes.recipe-mesh.svc.cluster.local'];
        }),
      /host recipes\.recipe-mesh\.svc\.cluster\.local is no Service/,
      refs.virtualServiceProblems,
    ],
    [
      'a DestinationRule subset matching no pods',
      () =>
        with_('DestinationRule', 'recipe-api', (o) => {
          o.spec.subsets[0].labels.version = 'v2';
        }),
      /subset v1 labels .* match no pod/,
      refs.destinationRuleProblems,
    ],
    [
      'a DestinationRule for a missing host',
      () =>
        with_('DestinationRule', 'web-api', (o) => {
          o.spec.host = 'web-api.default.svc.cluster.local';
        }),
      /host web-api\.default\.svc\.cluster\.local is no Service/,
      refs.destinationRuleProblems,
    ],
    [
      'a Gateway selecting no ingress gateway',
      () =>
        with_('Gateway', 'web-gateway', (o) => {
          o.spec.selector = { istio: 'gateway' };
        }),
      /matches no ingress gateway/,
      (o) => refs.gatewayProblems(o, install),
    ],
    [
      'a principal naming no ServiceAccount',
      () =>
        with_('AuthorizationPolicy', 'recipe-api', (o) => {
          o.spec.rules[0].from[0].source.principals = ['cluster.local/ns/recipe-mesh/sa/webapi'];
        }),
      /principal cluster\.local\/ns\/recipe-mesh\/sa\/webapi is no ServiceAccount/,
      (o) => refs.authorizationProblems(o, install),
    ],
    [
      'an AuthorizationPolicy selecting no pods',
      () =>
        with_('AuthorizationPolicy', 'web-api', (o) => {
          o.spec.selector.matchLabels.app = 'web';
        }),
      /selector matches no pods/,
      (o) => refs.authorizationProblems(o, install),
    ],
    [
      'an AuthorizationPolicy port the pods lack',
      () =>
        with_('AuthorizationPolicy', 'recipe-api', (o) => {
          o.spec.rules[0].to[0].operation.ports = ['4000', '50051'];
        }),
      /port 50051 is no container port/,
      (o) => refs.authorizationProblems(o, install),
    ],
    [
      'an admin port allowed through the mesh',
      () =>
        with_('AuthorizationPolicy', 'web-api', (o) => {
          o.spec.rules[0].to[0].operation.ports.push('9464');
        }),
      /allows admin port 9464/,
      (o) => refs.adminIsolationProblems(o, contracts),
    ],
    [
      'an admin port no DENY policy covers',
      () =>
        with_('AuthorizationPolicy', 'deny-admin-ports', (o) => {
          o.spec.rules[0].to[0].operation.ports = ['9464'];
        }),
      /recipe-api: no DENY AuthorizationPolicy covers admin port 9465/,
      (o) => refs.adminIsolationProblems(o, contracts),
    ],
    [
      'an admin port behind a Service',
      () =>
        with_('Service', 'web-api', (o) => {
          o.spec.ports.push({ name: 'http-admin', port: 9464, targetPort: 'http-admin' });
        }),
      /exposes the admin port/,
      (o) => refs.adminIsolationProblems(o, contracts),
    ],
    [
      'a Telemetry provider the install does not declare',
      () =>
        with_('Telemetry', 'mesh-default', (o) => {
          o.spec.tracing[0].providers[0].name = 'jaeger';
        }),
      /provider jaeger is not in istio\/install/,
      (o) => refs.telemetryProblems(o, install),
    ],
    [
      'a tracing provider whose Service port is missing',
      () =>
        with_('Service', 'tempo', (o) => {
          o.spec.ports = o.spec.ports.filter((p: any) => p.port !== 4317);
        }),
      /tempo has no port 4317/,
      (o) => refs.telemetryProblems(o, install),
    ],
  ];
  for (const [what, objects, expected, check] of broken) {
    test(`fails on ${what}`, () => {
      assert.match(check(objects()).join('\n'), expected);
    });
  }
});
