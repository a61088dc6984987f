import { runLoad } from '@recipe-mesh/measure/load';
import { vias } from '@recipe-mesh/platform/request-rules';
import { waitForScrape } from '@recipe-mesh/measure/scrape';

/**
 * Traffic that gives every Services, Node.js runtime and Redis panel something to show: recipe
 * reads over each `via` (REST, GraphQL and gRPC towards recipe-api, Redis hits and misses), a
 * preferences update (cache invalidation series) and an export (a streamed upstream body).
 */
async function oneRound(publicUrl: string): Promise<void> {
  const reads = vias.map((via) =>
    runLoad({
      baseUrl: publicUrl,
      path: `/api/recipes/${vias.indexOf(via) + 1}`,
      via,
      mode: { kind: 'rate', requestsPerSecond: 10 },
      durationMs: 1000,
    }),
  );
  const put = await fetch(`${publicUrl}/api/users/7/preferences?via=http`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ preferredServings: 2, favourites: [1, 2] }),
  });
  if (!put.ok) throw new Error(`PUT preferences answered ${put.status}: ${await put.text()}`);
  const exported = await fetch(`${publicUrl}/api/recipes/export?via=http`);
  await exported.arrayBuffer();
  if (!exported.ok) throw new Error(`export answered ${exported.status}`);
  for (const { summary } of await Promise.all(reads)) {
    if (summary.errors > 0 || summary.requests === 0)
      throw new Error(`warm-up reads failed: ${JSON.stringify(summary.byStatus)}`);
  }
}

/**
 * Two rounds of traffic, each followed by a scrape of every target: rate() and
 * histogram_quantile() need two samples of a counter that moved between them, and waiting for
 * the scrapes (the lab scrapes every 5 s) replaces a guessed sleep.
 */
export async function warmUpDashboards(publicUrl: string, prometheusUrl: string): Promise<void> {
  for (let round = 0; round < 2; round++) {
    await oneRound(publicUrl);
    await waitForScrape(prometheusUrl, Date.now());
  }
}
