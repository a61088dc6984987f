import type { NewRecipe } from '@recipe-mesh/platform/recipe-input';
import type { Readable } from 'node:stream';
import type { Via } from '../upstream/errors.js';

/**
 * What web-api reads from recipe-api's answers. The recipe is passed through as recipe-api sent
 * it (extra fields kept); only what web-api uses is checked (see producer-answer.ts), and the id
 * is a number whichever protocol carried it (gRPC int64 and GraphQL ID arrive as strings).
 */
export interface RecipeJson {
  id: number;
  name: string;
  [field: string]: unknown;
}

/** `{ favourite, preferredServings }` from recipe-api, passed through unchecked (web-api does not read it). */
export type UserViewJson = Record<string, unknown>;

/** The producer part of `GET /api/recipes/:id`, as the book's consumer shows it. */
export interface ProducerRecipe {
  producer_pid: number;
  recipe: RecipeJson;
  userView?: UserViewJson;
}

export interface ProducerCreated {
  producer_pid: number;
  recipe: RecipeJson;
  replayed: boolean;
}

export interface CallContext {
  /** Sent as `x-user-id` (header or gRPC metadata) so recipe-api answers the per-user view. */
  userId?: string | undefined;
  /** When the caller stops waiting (epoch ms, upstream/deadline.ts); the call ends by then. */
  deadline?: number | undefined;
}

export interface CreateContext extends CallContext {
  /** Forwarded; with it, the POST is safe to retry because recipe-api deduplicates on it. */
  idempotencyKey?: string | undefined;
}

/** The calls every protocol offers. */
export interface RecipeUpstream {
  readonly via: Via;
  getRecipe(id: number, context: CallContext): Promise<ProducerRecipe>;
  createRecipe(input: NewRecipe, context: CreateContext): Promise<ProducerCreated>;
}

export interface ExportStream {
  contentType: string;
  body: Readable;
}

/** REST-only calls (no GraphQL or gRPC equivalent in the contract). */
export interface RestOnlyUpstream {
  setPreferences(userId: string, preferences: unknown): Promise<{ producer_pid?: number; [field: string]: unknown }>;
  /**
   * Starts the NDJSON export. `signal` aborts the upstream request whenever it fires, also after
   * the headers arrived; without one, only the deadline (to the first byte) can.
   */
  openExport(options: { signal?: AbortSignal | undefined }): Promise<ExportStream>;
}
