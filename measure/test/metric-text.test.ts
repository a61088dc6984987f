import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Histogram, Registry, Counter, Gauge } from 'prom-client';
import {
  delta,
  histogramBuckets,
  histogramCount,
  histogramDelta,
  histogramQuantile,
  parseScrape,
  sumOf,
} from '../src/metric-text.js';

const openMetrics = `# HELP redis_command_duration_seconds Redis command duration.
# TYPE redis_command_duration_seconds histogram
redis_command_duration_seconds_bucket{le="0.001",command="get",outcome="success",service="recipe-api"} 90 # {trace_id="4bf92f3577b34da6a3ce929d0e0e4736"} 0.0004 1700000000.000
redis_command_duration_seconds_bucket{le="0.005",command="get",outcome="success",service="recipe-api"} 99
redis_command_duration_seconds_bucket{le="+Inf",command="get",outcome="success",service="recipe-api"} 100
redis_command_duration_seconds_sum{command="get",outcome="success",service="recipe-api"} 0.2
redis_command_duration_seconds_count{command="get",outcome="success",service="recipe-api"} 100
# TYPE cache_lookups counter
cache_lookups_total{result="hit",service="recipe-api"} 42
cache_lookups_total{result="miss",service="recipe-api"} 8
# TYPE process_open_fds gauge
process_open_fds{service="web-api"} 31
weird_label{path="a \\"quoted\\" \\\\ value, with, commas"} 1
# EOF
`;

test('parses OpenMetrics with exemplars, escapes and # EOF', () => {
  const s = parseScrape(openMetrics);
  assert.equal(sumOf(s, 'cache_lookups_total'), 50);
  assert.equal(sumOf(s, 'cache_lookups_total', { result: 'hit' }), 42);
  assert.equal(sumOf(s, 'process_open_fds'), 31);
  assert.equal(sumOf(s, 'nope'), null);
  assert.equal(s.types.redis_command_duration_seconds, 'histogram');
  assert.equal(s.samples.find((x) => x.name === 'weird_label')!.labels.path, 'a "quoted" \\ value, with, commas');
  assert.deepEqual(
    histogramBuckets(s, 'redis_command_duration_seconds', { command: 'get' }).map((b) => [b.le, b.count]),
    [
      [0.001, 90],
      [0.005, 99],
      [Infinity, 100],
    ],
  );
});

test('parses what prom-client serves in both formats, with the same numbers', async () => {
  for (const contentType of [Registry.PROMETHEUS_CONTENT_TYPE, Registry.OPENMETRICS_CONTENT_TYPE] as const) {
    const registry = new Registry();
    registry.setContentType(contentType as typeof Registry.PROMETHEUS_CONTENT_TYPE);
    const h = new Histogram({
      name: 'h_seconds',
      help: 'h',
      labelNames: ['command'],
      buckets: [0.001, 0.01, 0.1],
      registers: [registry],
    });
    const c = new Counter({ name: 'c_total', help: 'c', registers: [registry] });
    const g = new Gauge({ name: 'g', help: 'g', registers: [registry] });
    for (const v of [0.0005, 0.002, 0.002, 0.05]) h.observe({ command: 'get' }, v);
    c.inc(3);
    g.set(-2.5);
    const s = parseScrape(await registry.metrics());
    assert.equal(sumOf(s, 'c_total'), 3, contentType);
    assert.equal(sumOf(s, 'g'), -2.5, contentType);
    assert.equal(histogramCount(histogramBuckets(s, 'h_seconds', { command: 'get' })), 4, contentType);
  }
});

test("histogram_quantile interpolates inside the bucket like Prometheus'", () => {
  const buckets = [
    { le: 0.001, count: 90 },
    { le: 0.005, count: 99 },
    { le: Infinity, count: 100 },
  ];
  // rank 0.5*100 = 50 in the first bucket [0, 1ms]: 50/90 of the way.
  assert.ok(Math.abs(histogramQuantile(0.5, buckets)! - 0.001 * (50 / 90)) < 1e-12);
  // rank 99 is the top of the second bucket.
  assert.ok(Math.abs(histogramQuantile(0.99, buckets)! - 0.005) < 1e-12);
  // rank 99.9 falls in +Inf: the highest finite bound.
  assert.equal(histogramQuantile(0.999, buckets), 0.005);
  assert.equal(
    histogramQuantile(0.99, [
      { le: 0.001, count: 0 },
      { le: Infinity, count: 0 },
    ]),
    null,
  );
  assert.equal(histogramQuantile(0.99, []), null);
});

test('deltas between two scrapes: counters, gauges and histogram buckets', () => {
  const before = parseScrape(
    'a_total 5\ng 10\nh_bucket{le="0.001"} 10\nh_bucket{le="0.01"} 10\nh_bucket{le="+Inf"} 10\n',
  );
  const after = parseScrape(
    'a_total 8\ng 7\nh_bucket{le="0.001"} 10\nh_bucket{le="0.01"} 15\nh_bucket{le="+Inf"} 20\nnew_total 2\n',
  );
  assert.equal(delta(before, after, 'a_total'), 3);
  assert.equal(delta(before, after, 'g'), -3);
  assert.equal(delta(before, after, 'new_total'), 2);
  assert.equal(delta(before, after, 'missing'), null);
  const d = histogramDelta(before, after, 'h');
  assert.deepEqual(
    d.map((b) => b.count),
    [0, 5, 10],
  );
  // Only what happened between the scrapes: nothing under 1 ms, half under 10 ms.
  const median = histogramQuantile(0.5, d)!;
  assert.ok(median > 0.001 && median <= 0.01 + 1e-12, String(median));
  assert.equal(histogramQuantile(0.99, d), 0.01);
});

test('strict mode accepts what prom-client serves as OpenMetrics and names the first bad line', async () => {
  const registry = new Registry();
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as typeof Registry.PROMETHEUS_CONTENT_TYPE);
  const requests = new Counter({ name: 'strict_requests_total', help: 'requests', registers: [registry] });
  requests.inc(2);
  const strict = parseScrape(await registry.metrics(), { strict: true });
  assert.equal(strict.families.get('strict_requests')?.type, 'counter');
  assert.equal(strict.families.get('strict_requests')?.samples[0]?.value, 2);

  assert.throws(() => parseScrape('# TYPE a counter\na_total 1\n', { strict: true }), /must end with "# EOF"/);
  assert.throws(
    () => parseScrape('# TYPE a counter\na_total one\n# EOF\n', { strict: true }),
    /line 2 is not OpenMetrics/,
  );
  assert.throws(() => parseScrape('b 1\n# EOF\n', { strict: true }), /line 1: sample b has no TYPE before it/);
  // Lenient mode skips what it cannot read instead.
  assert.deepEqual(
    parseScrape('garbage here\n# TYPE c gauge\nc 3\n').samples.map((s) => s.value),
    [3],
  );
});
