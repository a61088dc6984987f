import assert from 'node:assert/strict';
import { meshNamespace } from '@recipe-mesh/measure/mesh-namespace';
import { describe, test } from 'node:test';
import { readContracts } from './lib/contracts.js';
import { readIstioOperator } from './lib/istio-install.js';
import { buildCombination, buildDefault, faultComponents } from './lib/kustomize.js';
import {
  changedObjects,
  faultDocumentationProblems,
  faultProblems,
  ingressProblems,
  installProblems,
  mtlsProblems,
  telemetrySamplingProblems,
  trafficPolicyProblems,
} from './lib/mesh.js';
import { clone, find } from './lib/objects.js';

const contracts = readContracts();

describe('Istio install values', () => {
  test('access log to stdout in the default format, OpenTelemetry tracing, a LoadBalancer ingress', () => {
    assert.deepEqual(installProblems(readIstioOperator()), []);
  });

  test('fail when the access log or tracing is off', () => {
    const operator = clone(readIstioOperator());
    delete operator.spec.meshConfig.accessLogFile;
    operator.spec.meshConfig.accessLogFormat = '[%START_TIME%] %RESPONSE_CODE%';
    operator.spec.meshConfig.extensionProviders = [];
    const problems = installProblems(operator).join('\n');
    assert.match(problems, /accessLogFile is not \/dev\/stdout/);
    assert.match(problems, /custom accessLogFormat/);
    assert.match(problems, /no OpenTelemetry tracing provider/);
  });
});

describe('mesh resources', () => {
  test('100% sampling to Tempo and access logging, mesh-wide', () => {
    assert.deepEqual(telemetrySamplingProblems(buildDefault()), []);
  });

  test('fails at 1% sampling or in a namespace that is not the root', () => {
    const objects = buildDefault();
    find(objects, 'Telemetry', 'mesh-default')!.spec.tracing[0].randomSamplingPercentage = 1;
    assert.match(telemetrySamplingProblems(objects).join(), /samples 1%/);
    find(objects, 'Telemetry', 'mesh-default')!.metadata.namespace = meshNamespace;
    assert.match(telemetrySamplingProblems(objects).join(), /no mesh-wide Telemetry/);
  });

  test('mTLS is STRICT', () => {
    assert.deepEqual(mtlsProblems(buildDefault()), []);
    const objects = buildDefault();
    find(objects, 'PeerAuthentication', 'default')!.spec.mtls.mode = 'PERMISSIVE';
    assert.match(mtlsProblems(objects).join(), /not STRICT/);
  });

  test('the ingress reaches web-api only', () => {
    assert.deepEqual(ingressProblems(buildDefault(), contracts), []);
    const objects = buildDefault();
    const vs = find(objects, 'VirtualService', 'web-api-ingress')!;
    vs.spec.http.push({
      name: 'api',
      route: [{ destination: { host: 'recipe-api.recipe-mesh.svc.cluster.local', port: { number: 4000 } } }],
    });
    assert.match(
      ingressProblems(objects, contracts).join(),
      /reaches recipe-api\.recipe-mesh\.svc\.cluster\.local:4000/,
    );
    vs.spec.http = [{ route: [{ destination: { host: 'web-api', port: { number: 9464 } } }] }];
    assert.match(ingressProblems(objects, contracts).join(), /reaches web-api:9464/);
  });

  test('DestinationRules state connection pools, idle timeout and outlier detection', () => {
    assert.deepEqual(trafficPolicyProblems(buildDefault()), []);
    const objects = buildDefault();
    delete find(objects, 'DestinationRule', 'recipe-api')!.spec.trafficPolicy.connectionPool.http.idleTimeout;
    find(objects, 'DestinationRule', 'web-api')!.spec.trafficPolicy.outlierDetection.maxEjectionPercent = 100;
    const problems = trafficPolicyProblems(objects).join('\n');
    assert.match(problems, /recipe-api: no connectionPool\.http\.idleTimeout/);
    assert.match(problems, /web-api: outlier detection may eject every pod/);
  });
});

describe('fault components', () => {
  const faults = faultComponents();

  test('one per mesh-side experiment, each documented', () => {
    assert.deepEqual(
      faults.map((f) => f.split('/').pop()),
      [
        'abort',
        'circuit-breaker',
        'circuit-breaker-sized',
        'delay',
        'idle-timeout',
        'retries',
        'timeout-budget',
        'timeout-budget-edge',
      ],
    );
    assert.deepEqual(faultDocumentationProblems(faults), []);
    assert.match(faultDocumentationProblems(['istio/faults/blackhole']).join(), /no row for istio\/faults\/blackhole/);
  });

  for (const fault of faults) {
    test(`${fault} changes mesh objects only`, () => {
      const changed = changedObjects(buildDefault(), buildCombination({ name: fault, components: [fault] }));
      assert.deepEqual(faultProblems(fault, changed), []);
    });
  }

  test('a fault that changes nothing, or a Deployment, fails', () => {
    assert.match(faultProblems('noop', changedObjects(buildDefault(), buildDefault())).join(), /changes nothing/);
    const changedDeployment = buildDefault();
    find(changedDeployment, 'Deployment', 'web-api')!.spec.replicas = 1;
    assert.match(
      faultProblems('x', changedObjects(buildDefault(), changedDeployment)).join(),
      /changes Deployment recipe-mesh web-api/,
    );
  });
});
