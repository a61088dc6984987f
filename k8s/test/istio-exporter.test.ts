import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { parseScrape } from '@recipe-mesh/measure/metric-text';
import { type ExporterClock, istioTagNames, podMetrics } from './lib/istio-exporter.js';
import { repoPath } from './lib/repo.js';

/**
 * The CI stand-in for Istio's series behaves as Istio's stats filter: a series exists only from
 * its first event and carries exactly the filter's tags (istio/proxy istio_stats.cc), so the
 * experiments' PromQL meets the same first-sample problem it meets on a cluster.
 */

const clock: ExporterClock = { startMs: 0, switchAtMs: 10_000, namespace: 'recipe-mesh' };
const apps = ['recipe-api', 'web-api', 'istio-ingressgateway'];
const istioSeries = (text: string) =>
  text.split('\n').filter((l) => /^istio_(requests_total|request_duration_milliseconds_\w+)\{/.test(l));
const labelsOf = (line: string) =>
  [...line.slice(line.indexOf('{') + 1, line.lastIndexOf('}')).matchAll(/(\w+)="/g)].map((m) => m[1]);

test('before any request no Istio series exists; none is ever exported at 0', () => {
  for (const app of apps) assert.deepEqual(istioSeries(podMetrics(app, clock.startMs, clock)), [], app);
  for (const app of apps)
    for (const at of [500, 5_000, 10_000, 10_500, 40_000])
      for (const line of istioSeries(podMetrics(app, at, clock)))
        if (!line.includes('_bucket{')) assert.notEqual(Number(line.split(' ').at(-1)), 0, `${app} at ${at}: ${line}`);
});

test("an incident's series is born at its first events: 503 UC appears only after the switch", () => {
  const uc = (at: number) =>
    istioSeries(podMetrics('recipe-api', at, clock)).filter((l) => l.includes('response_flags="UC"'));
  assert.deepEqual(uc(clock.switchAtMs), []);
  const [first] = uc(clock.switchAtMs + 1_000);
  assert.ok(first, 'the UC series after the switch');
  assert.equal(Number(first.split(' ').at(-1)), 1);
});

test("every Istio series carries exactly the stats filter's tags, in its order", () => {
  const at = clock.switchAtMs + 30_000;
  for (const app of apps) {
    const lines = istioSeries(podMetrics(app, at, clock));
    assert.ok(lines.length > 0, app);
    for (const line of lines) {
      const labels = labelsOf(line).filter((l) => l !== 'le');
      assert.deepEqual(labels, [...istioTagNames], line);
    }
  }
  assert.equal(istioTagNames.length, 25);
  // The text is valid Prometheus exposition (parseScrape throws on a malformed line).
  for (const app of apps) assert.ok(Object.keys(parseScrape(podMetrics(app, at, clock)).types).length > 0);
});

test("grafana/mesh-metrics.json documents the same labels for Istio's HTTP metrics", () => {
  const { families } = JSON.parse(readFileSync(repoPath('grafana/mesh-metrics.json'), 'utf8')) as {
    families: Array<{ name: string; labels: string[] }>;
  };
  for (const name of ['istio_requests_total', 'istio_request_duration_milliseconds'])
    assert.deepEqual(families.find((f) => f.name === name)?.labels, [...istioTagNames], name);
});
