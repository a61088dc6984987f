import { z } from 'zod';
import { env, loadConfig } from '@recipe-mesh/platform/config';
import { adminPortKey, runtimeConfigShape } from '@recipe-mesh/platform/runtime';

/**
 * web-api's configuration (docs/contracts.md, "Environment"). Every key has a default and a doc
 * line; `configTable(webApiConfigSchema)` renders README's table from these descriptions.
 */
export const webApiConfigSchema = z.object({
  ...runtimeConfigShape,
  PORT: env.port(3000).describe('Public REST listener of web-api.'),
  ADMIN_PORT: adminPortKey(9464),
  RECIPE_API_URL: env
    .url('http://127.0.0.1:4000')
    .describe('Origin of recipe-api REST and `/graphql` (in the lab: the sidecar outbound listener).'),
  RECIPE_API_GRPC_TARGET: env
    .string('127.0.0.1:4001')
    .describe('`host:port` of recipe-api gRPC (plaintext h2c), one channel per process.'),
  UPSTREAM_TIMEOUT_MS: env
    .int(2000, 1)
    .describe(
      'Deadline of one call to recipe-api, retries included (→ 504 when exceeded). For the export: time to the first byte.',
    ),
  UPSTREAM_RETRIES: env
    .int(2)
    .describe(
      'Extra attempts for idempotent calls after a connect error, 503 or UNAVAILABLE (POST only with `Idempotency-Key`).',
    ),
  UPSTREAM_MIN_TRY_MS: env
    .int(100, 1)
    .describe(
      'A retry starts only when this much of the deadline is left after its backoff: a try that cannot finish before the caller gives up only adds load.',
    ),
  UPSTREAM_DEADLINE_RESERVE_MS: env
    .int(50)
    .describe(
      "Kept from the caller's budget (`x-request-timeout-ms`, set by the caller or the ingress route) for the answer to travel back; calls to recipe-api end by the rest.",
    ),
  MENU_CONCURRENCY: env.int(4, 1).describe('Upstream calls in flight at once for one `GET /api/menu`.'),
});

export type WebApiConfig = z.infer<typeof webApiConfigSchema>;

export function loadWebApiConfig(source: Record<string, string | undefined> = process.env): WebApiConfig {
  return loadConfig(webApiConfigSchema, source);
}
