import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { waitForScrape } from '../src/scrape.js';

/** A stand-in for Prometheus's /api/v1/targets whose targets' lastScrape the test moves. */
async function fakePrometheus(targets: Array<{ scrapeUrl: string; lastScrape: () => string }>) {
  const server = http.createServer((_req, res) => {
    const activeTargets = targets.map((t) => ({
      scrapeUrl: t.scrapeUrl,
      health: 'up',
      lastError: '',
      lastScrape: t.lastScrape(),
    }));
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ status: 'success', data: { activeTargets } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => server.close(r)),
  };
}

test('waits until every target was scraped after the given time', async (t) => {
  const after = Date.now();
  const lateScrape = after + 400;
  const prometheus = await fakePrometheus([
    { scrapeUrl: 'http://a/metrics', lastScrape: () => new Date(after + 10).toISOString() },
    // Scraped before `after` until lateScrape has passed.
    {
      scrapeUrl: 'http://b/metrics',
      lastScrape: () => new Date(Date.now() >= lateScrape ? lateScrape : after - 1000).toISOString(),
    },
  ]);
  t.after(prometheus.close);
  const targets = await waitForScrape(prometheus.url, after, { timeoutMs: 5000 });
  assert.ok(Date.now() >= lateScrape);
  assert.deepEqual(
    targets.map((x) => x.scrapeUrl),
    ['http://a/metrics', 'http://b/metrics'],
  );
});

test('names the targets that were not scraped in time', async (t) => {
  const prometheus = await fakePrometheus([
    { scrapeUrl: 'http://stale/metrics', lastScrape: () => new Date(0).toISOString() },
  ]);
  t.after(prometheus.close);
  await assert.rejects(
    waitForScrape(prometheus.url, Date.now(), { timeoutMs: 600 }),
    /not scraped since: http:\/\/stale\/metrics \(up\)/,
  );
});
