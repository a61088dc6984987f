import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { createEnabled } from '../src/telemetry-instrumentations.js';

/** Factories that record which were called: constructing an instrumentation is what patches. */
function factories() {
  const built: string[] = [];
  const entry = (name: string) => () => {
    built.push(name);
    return { instrumentationName: `@opentelemetry/instrumentation-${name}` } as Instrumentation;
  };
  return { built, all: { http: entry('http'), express: entry('express'), grpc: entry('grpc') } };
}

test('OTEL_NODE_DISABLED_INSTRUMENTATIONS: the named ones are never constructed', () => {
  const { built, all } = factories();
  const enabled = createEnabled(all, ' express, grpc ');
  assert.deepEqual(built, ['http']);
  assert.deepEqual(
    enabled.map((i) => i.instrumentationName),
    ['@opentelemetry/instrumentation-http'],
  );
});

test('unset, empty or naming nothing known, every instrumentation is built', () => {
  for (const value of [undefined, '', ',', 'fs']) {
    const { built, all } = factories();
    createEnabled(all, value);
    assert.deepEqual(built, ['http', 'express', 'grpc'], String(value));
  }
});
