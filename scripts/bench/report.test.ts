import assert from 'node:assert/strict';
import { test } from 'node:test';
import { vias } from '@recipe-mesh/platform/request-rules';
import { buildReport, renderMarkdown, repeatRuns, rowKeys, type Row } from './report.js';

const machine = {
  cores: 2,
  cpuModel: 'test cpu',
  node: 'v20.0.0',
  serviceNode: 'v24.0.0',
  date: '2026-12-02T00:00:00.000Z',
};

/** A row per key with req/s from `rps` (distinct per key so a swapped ratio shows). */
function syntheticRows(rps: (key: string, index: number) => number): Row[] {
  return rowKeys.map((key, index) => ({
    key,
    scenario: key.split(':')[0] as Row['scenario'],
    via: vias.find((v) => key.includes(`:${v}`)) ?? null,
    telemetry: !key.endsWith(':off'),
    loop: key.includes(':open') ? 'open' : 'closed',
    connections: 20,
    targetRps: key.includes(':open') ? 50 : null,
    requestsPerSecond: rps(key, index),
    p50: key.startsWith('B6') ? 3 : 1,
    p99: 5,
    non200: 0,
    processes: {
      'web-api': { cpuSeconds: 1, peakRssMiB: 100 + index },
      'recipe-api': { cpuSeconds: 1, peakRssMiB: 200 - index },
    },
  }));
}

test('the report carries every row and every ratio under the names scripts read', () => {
  const table: Record<string, number> = { B1: 800, E0: 1000, P0: 640, P1: 1600, B2: 300, Y0: 600, B3: 1200 };
  for (const v of vias) {
    table[`B4:${v}`] = 400;
    table[`B5:B4:${v}:off`] = 500;
    table[`B6:${v}`] = 200;
  }
  table['B5:B1:off'] = 1000;
  // Rows arrive in the order the labs ran them (the mesh first); the report keeps the table's order.
  const rows = syntheticRows((k) => table[k] ?? 1).reverse();
  const report = buildReport({ machine, durationMs: 100, connections: 20, rows });
  assert.deepEqual(
    report.rows.map((r) => r.key),
    [...rowKeys],
  );
  assert.equal(report.ratios['B1/E0'], 0.8);
  assert.equal(report.ratios['B1/P0'], 1.25);
  assert.equal(report.ratios['B1/P1'], 0.5);
  assert.equal(report.ratios['B2/Y0'], 0.5);
  assert.equal(report.ratios['B3/B1'], 1.5);
  assert.deepEqual(report.ratios['B4/B1'], { http: 0.5, graphql: 0.5, grpc: 0.5 });
  assert.deepEqual(report.ratios.B5, { B1: 0.8, B4: { http: 0.8, graphql: 0.8, grpc: 0.8 } });
  assert.deepEqual(report.ratios['B6/B4'], { http: 0.5, graphql: 0.5, grpc: 0.5 });
  assert.deepEqual(report.meshAddedP50Ms, { http: 2, graphql: 2, grpc: 2 });
  assert.deepEqual(report.peakRssMiB, { 'web-api': 100 + rowKeys.length - 1, 'recipe-api': 200 });
  // The repeat rows are the last five: web-api's peaks rise by one MiB each, within the flat spread.
  assert.equal(report.rssRepeats['web-api'].peaksMiB.length, repeatRuns);
  assert.deepEqual(
    report.rssRepeats['web-api'].peaksMiB,
    [0, 1, 2, 3, 4].map((i) => 100 + rowKeys.length - 5 + i),
  );
  assert.equal(report.rssRepeats['web-api'].flat, true);
  // What a script reads survives JSON.
  const parsed = JSON.parse(JSON.stringify(report)) as typeof report;
  for (const key of ['B1/E0', 'B1/P0', 'B1/P1', 'B2/Y0', 'B3/B1', 'B4/B1', 'B5', 'B6/B4'] as const)
    assert.ok(key in parsed.ratios, key);
  assert.equal(parsed.ratios['B1/P1'], 0.5);
});

test("the mesh's added p50 compares B6's open row with B4's at B6's rate, not B4's own open row", () => {
  const rows = syntheticRows(() => 100).map((r) => {
    if (r.key === 'B6:http:open') return { ...r, p50: 3.5 };
    if (r.key === 'B4:http:open') return { ...r, p50: 9 };
    if (r.key === 'B4:http:open:b6-rate') return { ...r, p50: 2.75 };
    return r;
  });
  const report = buildReport({ machine, durationMs: 100, connections: 20, rows });
  assert.equal(report.meshAddedP50Ms.http, 0.75);
});

test('peak RSS that keeps growing across the repeat rows is not flat', () => {
  const rows = syntheticRows(() => 100).map((r) => {
    const run = /^B4:repeat:(\d)$/.exec(r.key);
    if (!run) return r;
    const grown = { cpuSeconds: 1, peakRssMiB: 120 + 4 * Number(run[1]) };
    return { ...r, processes: { ...r.processes, 'recipe-api': grown } };
  });
  const report = buildReport({ machine, durationMs: 100, connections: 20, rows });
  assert.deepEqual(report.rssRepeats['recipe-api'], { peaksMiB: [124, 128, 132, 136, 140], flat: false });
  assert.match(renderMarkdown(report), /recipe-api 124 \/ 128 \/ 132 \/ 136 \/ 140 \(not flat\)/);
});

test('a run missing any row is refused, naming the row', () => {
  const rows = syntheticRows(() => 100).filter((r) => r.key !== 'B6:grpc:open');
  assert.throws(() => buildReport({ machine, durationMs: 100, connections: 20, rows }), /B6:grpc:open/);
});

test('the Markdown names the machine and every row and ratio', () => {
  const markdown = renderMarkdown(
    buildReport({ machine, durationMs: 100, connections: 20, rows: syntheticRows(() => 100) }),
  );
  assert.match(
    markdown,
    /2 cores \(test cpu\), services and floors on Node v24\.0\.0 \(the images'\), load from Node v20\.0\.0/,
  );
  for (const key of rowKeys) assert.match(markdown, new RegExp(`^\\| ${key} \\|`, 'm'));
  for (const ratio of ['B1/E0', 'B1/P0', 'B1/P1', 'B2/Y0', 'B3/B1', 'B4/B1', 'B5', 'B6/B4', 'peak RSS'])
    assert.ok(markdown.includes(`| ${ratio}`), ratio);
});
