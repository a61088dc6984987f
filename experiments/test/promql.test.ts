import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { waitForScrape } from '@recipe-mesh/measure/scrape';
import { requireBinary } from '@recipe-mesh/measure/binaries';
import { startPrometheus, type Started } from '../../grafana/test/lib/processes.js';
import { bornAtFirstEvent, istioHttpTags, type IstioWorkload } from '../../k8s/test/lib/istio-exporter.js';
import { countAll, countWhere } from '../src/promql.js';
import { promQuery } from '../src/targets/k8s.js';

/**
 * The experiments' counts against a real Prometheus (Debian's) scraping series the way Istio's
 * stats filter makes them: a `response_flags="UC"` series does not exist until the first UC, and
 * is then born at the number of UCs counted before the scrape. A burst inside one scrape interval
 * must read its real count, where `increase()` alone reads 0 (prometheus/prometheus#1673).
 */

const prometheusBinary = requireBinary('prometheus');
const skip = 'skip' in prometheusBinary ? prometheusBinary.skip : false;

const namespace = 'recipe-mesh';
const workload = (name: string): IstioWorkload => ({ name, namespace, serviceAccount: name });
const inbound = {
  reporter: 'destination',
  source: workload('web-api'),
  destination: { ...workload('recipe-api'), service: 'recipe-api' },
} as const;
const base = `reporter="destination",destination_workload="recipe-api",destination_workload_namespace="${namespace}"`;
const uc = 'response_flags="UC"';

/** What the sidecar has counted so far, by response code and flags. */
const counts = new Map<string, number>([['200 -', 40]]);
const server = http.createServer((_req, res) => {
  const lines = [...counts].flatMap(([key, value]) => {
    const [code, flags] = key.split(' ') as [string, string];
    return bornAtFirstEvent('istio_requests_total', istioHttpTags(inbound, code, flags), value);
  });
  res.end(`# TYPE istio_requests_total counter\n${lines.join('\n')}\n`);
});
let prometheus: Started | undefined;

before(async () => {
  if (skip) return;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  prometheus = await startPrometheus((prometheusBinary as { path: string }).path, [
    { job: 'sidecar', target: `127.0.0.1:${port}`, metricsPath: '/stats/prometheus' },
  ]);
});
after(async () => {
  await prometheus?.stop();
  server.close();
});

/** The time of a scrape that started after now, and so saw everything counted before the call. */
async function nextScrapeMs(url: string): Promise<number> {
  const [state] = await waitForScrape(url, Date.now());
  return state!.lastScrapeMs;
}

test('a rare event counts from its series being absent: a burst between two scrapes reads its real count', {
  skip,
  timeout: 60_000,
}, async () => {
  const url = prometheus!.url;
  // The window opens just after a scrape that saw only the 200s: the UC series is absent there.
  const windowStartMs = (await nextScrapeMs(url)) + 1;
  counts.set('503 UC', 7); // seven 503 UC between two scrapes: the series is born at 7
  await nextScrapeMs(url);
  const atMs = (await nextScrapeMs(url)) + 1; // a second sample at 7: increase() has two points
  const query = (promql: string, at = atMs) =>
    promQuery(url, promql.replaceAll('$window', `${at - windowStartMs}ms`), at);

  assert.equal(await query(`sum(increase(istio_requests_total{${base},${uc}}[$window]))`), 0, 'increase() alone');
  assert.equal(await query(countWhere('istio_requests_total', base, uc)), 7);
  assert.equal(await query(countAll('istio_requests_total', base)), 7, 'the 200s did not move');

  // Two more on the series born in the window: its whole value, not its first sample plus increase().
  counts.set('503 UC', 9);
  await nextScrapeMs(url);
  const laterMs = (await nextScrapeMs(url)) + 1;
  assert.equal(await query(countWhere('istio_requests_total', base, uc), laterMs), 9);

  // A filter nothing matched reads 0; a selector that matches no series reads no data.
  assert.equal(await query(countWhere('istio_requests_total', base, 'response_flags="UO"')), 0);
  const elsewhere = base.replace(`"${namespace}"`, '"default"');
  assert.equal(await query(countWhere('istio_requests_total', elsewhere, uc)), null);
});
