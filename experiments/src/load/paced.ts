import http from 'node:http';
import type { RequestRecord } from '@recipe-mesh/measure/requests';
import { type RequestSpec, sendRequest } from './http.js';

/**
 * Requests evenly spaced in time (each lane sends one every `lanes / ratePerSecond` seconds), so
 * the service under test is never saturated by the load itself: latency it reports then comes from
 * the fault, not from a load generator that bunches requests (autocannon's overallRate sends each
 * second's budget at once).
 */
export async function pacedLoad(options: {
  request: (i: number) => Omit<RequestSpec, 'agent'>;
  ratePerSecond: number;
  lanes: number;
  /** At least this long; with `until`, also until that settles (a drill the load must outlast). */
  durationMs: number;
  until?: Promise<unknown> | undefined;
}): Promise<RequestRecord[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.lanes });
  const intervalMs = (options.lanes * 1000) / options.ratePerSecond;
  const end = performance.now() + options.durationMs;
  const records: RequestRecord[] = [];
  let counter = 0;
  let pending = options.until !== undefined;
  void options.until?.finally(() => (pending = false)).catch(() => {});
  const lane = async (offsetMs: number) => {
    let next = performance.now() + offsetMs;
    for (;;) {
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (performance.now() >= end && !pending) return;
      records.push(await sendRequest({ ...options.request(counter++), agent }));
      next += intervalMs;
      // Behind schedule (a slow answer): start again from now rather than firing a catch-up burst.
      if (next < performance.now()) next = performance.now();
    }
  };
  try {
    await Promise.all(Array.from({ length: options.lanes }, (_, i) => lane((i * intervalMs) / options.lanes)));
  } finally {
    agent.destroy();
  }
  return records;
}
