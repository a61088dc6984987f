import { waitFor } from './net.js';

/**
 * Waits until Prometheus has scraped every one of its targets after `afterMs`, so that a panel
 * query sees what happened before that moment, without sleeping for a guessed scrape interval.
 * Prometheus's GET /api/v1/targets reports each target's `lastScrape` (the scrape's start time,
 * which is also its samples' timestamp) once the scrape's samples are committed.
 */

interface TargetsResponse {
  status: 'success' | 'error';
  error?: string;
  data?: { activeTargets: Array<{ scrapeUrl: string; health: string; lastScrape: string; lastError: string }> };
}

export interface ScrapeState {
  scrapeUrl: string;
  health: string;
  lastScrapeMs: number;
  lastError: string;
}

export async function scrapeStates(prometheusUrl: string): Promise<ScrapeState[]> {
  const url = new URL('api/v1/targets?state=active', prometheusUrl.endsWith('/') ? prometheusUrl : `${prometheusUrl}/`);
  const body = (await (await fetch(url, { signal: AbortSignal.timeout(5000) })).json()) as TargetsResponse;
  if (body.status !== 'success' || !body.data) throw new Error(body.error ?? 'no targets in the answer');
  return body.data.activeTargets.map((t) => ({
    scrapeUrl: t.scrapeUrl,
    health: t.health,
    lastScrapeMs: Date.parse(t.lastScrape),
    lastError: t.lastError,
  }));
}

/** Resolves with the targets once each was scraped at or after `afterMs`; throws naming the laggards. */
export async function waitForScrape(
  prometheusUrl: string,
  afterMs: number,
  { timeoutMs = 20000 } = {},
): Promise<ScrapeState[]> {
  let last: ScrapeState[] = [];
  try {
    return await waitFor(
      async () => {
        last = await scrapeStates(prometheusUrl);
        return last.length > 0 && last.every((t) => t.lastScrapeMs >= afterMs) ? last : false;
      },
      { timeoutMs, intervalMs: 250, what: `a scrape of every target after ${new Date(afterMs).toISOString()}` },
    );
  } catch (error) {
    const lagging = last
      .filter((t) => !(t.lastScrapeMs >= afterMs))
      .map((t) => `${t.scrapeUrl} (${t.health}${t.lastError ? `: ${t.lastError}` : ''})`);
    throw new Error(`${(error as Error).message}; not scraped since: ${lagging.join(', ') || '(no targets)'}`);
  }
}
