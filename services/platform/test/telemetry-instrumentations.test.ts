import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getNodeAutoInstrumentations } from '@opentelemetry/auto-instrumentations-node';
import { onlyThese } from '../src/telemetry-instrumentations.js';

const used = {
  '@opentelemetry/instrumentation-http': {},
  '@opentelemetry/instrumentation-express': { ignoreLayersType: [] },
  '@opentelemetry/instrumentation-grpc': {},
};

/** The package's own function, with the environment given (its variables are read per call). */
function built(env: Record<string, string | undefined>): string[] {
  const variables = ['OTEL_NODE_ENABLED_INSTRUMENTATIONS', 'OTEL_NODE_DISABLED_INSTRUMENTATIONS'] as const;
  const saved = variables.map((name) => process.env[name]);
  for (const name of variables) {
    if (env[name] === undefined) delete process.env[name];
    else process.env[name] = env[name];
  }
  try {
    const instrumentations = getNodeAutoInstrumentations(onlyThese(used));
    // Constructing one enables it (patches its module): switch them off again.
    for (const instrumentation of instrumentations) instrumentation.disable();
    return instrumentations.map((i) => i.instrumentationName).sort();
  } finally {
    variables.forEach((name, i) => {
      if (saved[i] === undefined) delete process.env[name];
      else process.env[name] = saved[i];
    });
  }
}

test('only the listed instrumentations are built, none of the others the package knows', () => {
  assert.deepEqual(built({}), Object.keys(used).sort());
});

test('OTEL_NODE_DISABLED_INSTRUMENTATIONS removes the named ones', () => {
  assert.deepEqual(built({ OTEL_NODE_DISABLED_INSTRUMENTATIONS: ' express, grpc ' }), [
    '@opentelemetry/instrumentation-http',
  ]);
});

test('OTEL_NODE_ENABLED_INSTRUMENTATIONS keeps the named ones, and cannot add one the services do not use', () => {
  assert.deepEqual(built({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,fs,grpc,pg' }), [
    '@opentelemetry/instrumentation-grpc',
    '@opentelemetry/instrumentation-http',
  ]);
});

test('the options given reach the instrumentation, and only the listed names are keys', () => {
  const config = onlyThese(used);
  assert.deepEqual(Object.keys(config), Object.keys(used));
  assert.deepEqual(config['@opentelemetry/instrumentation-express'], { ignoreLayersType: [] });
  assert.deepEqual(config['@opentelemetry/instrumentation-pg'], { enabled: false });
});
