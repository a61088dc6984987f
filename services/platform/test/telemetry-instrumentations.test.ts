import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { withoutDisabled } from '../src/telemetry-instrumentations.js';

// Instances are created disabled: the test patches no module.
const all = () => [
  new HttpInstrumentation({ enabled: false }),
  new ExpressInstrumentation({ enabled: false }),
  new GrpcInstrumentation({ enabled: false }),
];
const names = (list: { instrumentationName: string }[]) => list.map((i) => i.instrumentationName);

test('OTEL_NODE_DISABLED_INSTRUMENTATIONS removes the named instrumentations, prefix omitted', () => {
  assert.deepEqual(names(withoutDisabled(all(), ' express, grpc ')), ['@opentelemetry/instrumentation-http']);
});

test('unset, empty or naming nothing known, every instrumentation stays', () => {
  for (const value of [undefined, '', ',', 'fs']) assert.equal(withoutDisabled(all(), value).length, 3, String(value));
});
