import assert from 'node:assert/strict';
import { test } from 'node:test';
import { summarizeProfile } from './cpu-profile.js';
import { summarizeHeapSnapshot } from './heap-snapshot.js';

test('a CPU profile sums self time per function and per package, idle apart', () => {
  const frame = (functionName: string, url: string, lineNumber = 0) => ({ functionName, url, lineNumber });
  const summary = summarizeProfile({
    nodes: [
      { id: 1, callFrame: frame('(root)', '') },
      { id: 2, callFrame: frame('(idle)', '') },
      { id: 3, callFrame: frame('serializeSpan', 'file:///r/node_modules/@opentelemetry/otlp-transformer/x.js', 9) },
      { id: 4, callFrame: frame('writeString', 'file:///r/node_modules/@opentelemetry/otlp-transformer/w.js') },
      { id: 5, callFrame: frame('get', 'file:///r/services/recipe-api/dist/data-access/view-cache.js', 17) },
    ],
    samples: [2, 3, 3, 4, 5, 2],
    timeDeltas: [1000, 2000, 2000, 1000, 3000, 1000],
  });
  assert.equal(summary.totalMs, 10);
  assert.equal(summary.busyMs, 8);
  assert.deepEqual(summary.byPackage, [
    { name: '@opentelemetry/otlp-transformer', selfMs: 5 },
    { name: 'services/recipe-api', selfMs: 3 },
  ]);
  assert.deepEqual(summary.byFunction[0], { name: 'serializeSpan @opentelemetry/otlp-transformer/x.js:10', selfMs: 4 });
  assert.ok(!summary.byFunction.some((f) => f.name === '(idle)'));
});

test('a CPU profile summarised over a window of the monotonic clock counts only the samples inside it', () => {
  const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 0 });
  const profile = {
    nodes: [
      { id: 1, callFrame: frame('compileSourceTextModule', 'node:internal/modules/esm/utils') },
      { id: 2, callFrame: frame('serializeSpan', 'file:///r/node_modules/@opentelemetry/otlp-transformer/x.js') },
    ],
    // Start-up at 1,000,000 µs, then load samples at 1,010,000 and 1,011,000 µs.
    startTime: 1_000_000,
    samples: [1, 1, 2, 2],
    timeDeltas: [0, 1000, 9000, 1000],
  };
  assert.deepEqual(
    summarizeProfile(profile)
      .byPackage.map((p) => p.name)
      .sort(),
    ['@opentelemetry/otlp-transformer', 'node:internal'],
  );
  const load = summarizeProfile(profile, { fromUs: 1_005_000, toUs: 1_020_000 });
  assert.equal(load.busyMs, 10);
  assert.deepEqual(load.byPackage, [{ name: '@opentelemetry/otlp-transformer', selfMs: 10 }]);
});

test('a heap snapshot sums self size per constructor and per kind', () => {
  const summary = summarizeHeapSnapshot({
    snapshot: {
      meta: { node_fields: ['type', 'name', 'id', 'self_size'], node_types: [['hidden', 'object', 'string']] },
      node_count: 4,
    },
    // type, name (index into strings), id, self_size
    nodes: [1, 0, 1, 100, 1, 0, 3, 50, 2, 1, 5, 2 ** 20, 1, 2, 7, 10],
    strings: ['SpanImpl', 'a long string', 'Object'],
  });
  assert.deepEqual(
    summary.byName.map((g) => [g.name, g.count, Math.round(g.selfMiB * 2 ** 20)]),
    [
      ['(string)', 1, 2 ** 20],
      ['object SpanImpl', 2, 150],
      ['object Object', 1, 10],
    ],
  );
});
