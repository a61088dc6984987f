import type { NewRecipe } from '@recipe-mesh/platform/recipe-input';
import type { Dispatcher } from 'undici';
import type { UpstreamCaller } from '../upstream/call.js';
import { deadlineHeaders } from '../upstream/deadline.js';
import { UpstreamError, badAnswerError, fromHttpStatus, fromTransportError, timeoutError } from '../upstream/errors.js';
import { expectSuccess, parseJson, readBody, requestJson } from './http-transport.js';
import { readProducerCreated, readProducerRecipe } from './producer-answer.js';
import type { CallContext, CreateContext, ExportStream, RecipeUpstream, RestOnlyUpstream } from './types.js';

const via = 'http' as const;

/** recipe-api's REST API (`GET /recipes/:id`, `POST /recipes`, `PUT /users/:id/preferences`, `GET /recipes/export`). */
export class HttpRecipeClient implements RecipeUpstream, RestOnlyUpstream {
  readonly via = via;

  constructor(
    private readonly pool: Dispatcher,
    private readonly caller: UpstreamCaller,
  ) {}

  getRecipe(id: number, context: CallContext) {
    return this.caller.call(
      { via, operation: 'getRecipe', idempotent: true },
      async ({ deadline, deadlineSignal }) => {
        const answer = await requestJson(this.pool, via, {
          method: 'GET',
          path: `/recipes/${id}`,
          headers: { 'x-user-id': context.userId, ...deadlineHeaders(deadline) },
          signal: deadlineSignal,
        });
        return readProducerRecipe(expectSuccess(answer, via), via);
      },
      context.deadline,
    );
  }

  createRecipe(input: NewRecipe, context: CreateContext) {
    const idempotent = context.idempotencyKey !== undefined;
    return this.caller.call(
      { via, operation: 'createRecipe', idempotent },
      async ({ deadline, deadlineSignal }) => {
        const answer = await requestJson(this.pool, via, {
          method: 'POST',
          path: '/recipes',
          headers: {
            'idempotency-key': context.idempotencyKey,
            'x-user-id': context.userId,
            ...deadlineHeaders(deadline),
          },
          body: input,
          signal: deadlineSignal,
        });
        const created = expectSuccess(answer, via) as Record<string, unknown>;
        // recipe-api answers 201 the first time and 200 with the same body for a replayed key.
        return readProducerCreated({ ...created, replayed: answer.status === 200 }, via);
      },
      context.deadline,
    );
  }

  setPreferences(userId: string, preferences: unknown) {
    // PUT replaces the preferences: sending it twice leaves the same state, so it may be retried.
    return this.caller.call({ via, operation: 'setPreferences', idempotent: true }, async ({ deadlineSignal }) => {
      const answer = await requestJson(this.pool, via, {
        method: 'PUT',
        path: `/users/${encodeURIComponent(userId)}/preferences`,
        body: preferences,
        signal: deadlineSignal,
      });
      const json = expectSuccess(answer, via);
      if (typeof json !== 'object' || json === null || Array.isArray(json))
        throw badAnswerError(via, 'preferences answer is not an object');
      return json as Record<string, unknown>;
    });
  }

  /**
   * The deadline covers the start (up to the response headers) only: the stream itself lasts as
   * long as the client reads, so upstream_request_duration_seconds{operation="export"} times the
   * start too. After the headers, only `signal` (the client going away) aborts the request.
   */
  openExport({ signal }: { signal?: AbortSignal | undefined }): Promise<ExportStream> {
    const clientGone = () => new UpstreamError('BAD_REQUEST', 'client went away', via, 'client_error', false);
    return this.caller.call({ via, operation: 'export', idempotent: true }, async ({ deadlineSignal }) => {
      if (signal?.aborted) throw clientGone();
      if (deadlineSignal.aborted) throw timeoutError(via);
      const controller = new AbortController();
      const onDeadline = () => controller.abort(deadlineSignal.reason);
      const onClientGone = () => controller.abort(signal?.reason);
      deadlineSignal.addEventListener('abort', onDeadline, { once: true });
      signal?.addEventListener('abort', onClientGone, { once: true });
      let response: Dispatcher.ResponseData;
      try {
        response = await this.pool.request({
          method: 'GET',
          path: '/recipes/export',
          headers: { accept: 'application/x-ndjson' },
          signal: controller.signal,
        });
        if (response.statusCode !== 200) {
          throw fromHttpStatus(response.statusCode, parseJson(await readBody(response.body, via)), via);
        }
      } catch (error) {
        signal?.removeEventListener('abort', onClientGone);
        // The caller left before recipe-api answered: the caller's doing, not recipe-api's.
        if (signal?.aborted) throw clientGone();
        throw fromTransportError(error, via);
      } finally {
        deadlineSignal.removeEventListener('abort', onDeadline);
      }
      // Once the body is done or destroyed, the listener has nothing left to abort.
      response.body.once('close', () => signal?.removeEventListener('abort', onClientGone));
      const contentType = response.headers['content-type'];
      return {
        contentType: typeof contentType === 'string' ? contentType : 'application/x-ndjson',
        body: response.body,
      };
    });
  }
}
