import http from 'node:http';
import type { RequestRecord } from '@recipe-mesh/measure/requests';
import { pause } from '@recipe-mesh/measure/net';
import { sendRequest } from './http.js';

/**
 * Bursts of concurrent requests separated by idle gaps near the app's idle-close time. A burst's
 * requests finish over its duration S, so its connections expire over a window of length S one
 * idle-close time later. The next burst starts inside that window (idle + 10–90 % of S, drawn at
 * random): some connections expire while the app is busy answering the new burst, and the
 * requests written onto them meet a socket the app closes without reading them (measured in the
 * lab: 5 of 15 bursts hit, up to 19 of 20 requests of one burst).
 */
export async function burstsNearIdleClose(
  url: (i: number) => string,
  flagsHeader: string,
  options: { burstSize: number; idleMs: number; untilMs: number; stop?: () => Promise<boolean> },
): Promise<{ records: RequestRecord[]; bursts: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.burstSize });
  const records: RequestRecord[] = [];
  let bursts = 0;
  try {
    while (Date.now() < options.untilMs) {
      const started = performance.now();
      const burst = await Promise.all(
        Array.from({ length: options.burstSize }, (_, i) =>
          sendRequest({ url: url(i), agent, flagsHeader, timeoutMs: 10_000 }),
        ),
      );
      const spread = performance.now() - started;
      records.push(...burst);
      bursts++;
      if (options.stop && (await options.stop())) break;
      const nextStart = options.idleMs + (0.1 + 0.8 * Math.random()) * spread;
      const wait = Math.max(0, nextStart - (performance.now() - started));
      if (Date.now() + wait >= options.untilMs) break;
      // The load's shape, not a wait for a condition: the gap is what makes connections expire.
      await pause(wait);
    }
  } finally {
    agent.destroy();
  }
  return { records, bursts };
}
