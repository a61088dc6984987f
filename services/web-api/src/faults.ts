import { z } from 'zod';
import { type FaultDocumentOf, serviceSwitches } from '@recipe-mesh/platform/faults';

/**
 * web-api's own incident switches, beside the platform's generic faults (latency, errors, CPU,
 * timeouts, unready, graceful shutdown; services/platform/src/faults.ts).
 */
export const webApiSwitches = serviceSwitches(
  {
    streamCleanup: z
      .boolean()
      .optional()
      .describe(
        '`false`: `GET /api/recipes/export` relays the upstream body without releasing it when the client aborts.',
      ),
    idempotencyKeys: z
      .enum(['client', 'per-request'])
      .optional()
      .describe(
        "`client` (default) forwards only the caller's `Idempotency-Key`; `per-request` mints one per client request without one, so every retry below web-api carries the same key.",
      ),
  },
  {
    streamCleanup: ['stream_cleanup_off', (d) => d.streamCleanup === false],
    idempotencyKeys: ['idempotency_keys_per_request', (d) => d.idempotencyKeys === 'per-request'],
  },
);

export type WebApiSwitches = typeof webApiSwitches;
export type WebApiFaults = FaultDocumentOf<WebApiSwitches>;
