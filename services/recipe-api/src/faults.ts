import { z } from 'zod';
import { type FaultDocumentOf, percent, serviceSwitches } from '@recipe-mesh/platform/faults';

/**
 * recipe-api's own incident switches, beside the platform's generic faults (latency, errors, CPU,
 * timeouts, unready, graceful shutdown; services/platform/src/faults.ts): each a deliberately
 * broken behaviour an experiment needs, chosen from the document on every use (docs/experiments.md).
 */
export const recipeApiSwitches = serviceSwitches(
  {
    invalidationStrategy: z
      .enum(['index', 'scan'])
      .optional()
      .describe(
        "How a user's cached views are dropped: `index` (per-user SET) or `scan` (SCAN MATCH; overrides `INVALIDATION_STRATEGY`).",
      ),
    streamCleanup: z
      .boolean()
      .optional()
      .describe(
        '`false`: `GET /recipes/export` streams without releasing its streams when the client aborts (the client-abort-leak experiment).',
      ),
    uploadLimits: z
      .boolean()
      .optional()
      .describe('`false`: photo uploads are buffered whole, without `UPLOAD_MAX_BYTES` (the upload-oom experiment).'),
    readinessDependsOnRedis: z
      .boolean()
      .optional()
      .describe('`true`: `/readyz` PINGs Redis, the mistake the no-healthy-upstream experiment reproduces.'),
    resetAfterCreate: percent
      .optional()
      .describe(
        'Share of `POST /recipes` whose connection is destroyed after the store committed the create, before any answer (the post-retry-duplicates experiment).',
      ),
  },
  {
    invalidationStrategy: ['invalidation_scan', (d) => d.invalidationStrategy === 'scan'],
    streamCleanup: ['stream_cleanup_off', (d) => d.streamCleanup === false],
    uploadLimits: ['upload_limits_off', (d) => d.uploadLimits === false],
    readinessDependsOnRedis: ['readiness_depends_on_redis', (d) => d.readinessDependsOnRedis === true],
    resetAfterCreate: ['reset_after_create', (d) => (d.resetAfterCreate ?? 0) > 0],
  },
);

export type RecipeApiSwitches = typeof recipeApiSwitches;
export type RecipeApiFaults = FaultDocumentOf<RecipeApiSwitches>;
