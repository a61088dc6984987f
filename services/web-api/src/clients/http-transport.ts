import { Pool, type Dispatcher } from 'undici';
import { badAnswerError, fromHttpStatus, fromTransportError, type Via } from '../upstream/errors.js';

/**
 * One keep-alive pool to recipe-api's HTTP origin, shared by the REST and GraphQL clients.
 * undici closes an idle socket after `keepAliveTimeout`, or earlier when the server announces
 * `Keep-Alive: timeout=N` (minus `keepAliveTimeoutThreshold`), so web-api lets go of a socket
 * before recipe-api's own keepAliveTimeout (Node's 5 s) can close it under a request in flight —
 * the client side of the 503 UC race (undici docs, Client options).
 */
export function createRecipeApiPool(origin: string): Pool {
  return new Pool(new URL(origin).origin, {
    keepAliveTimeout: 4_000,
    keepAliveTimeoutThreshold: 1_000,
    // No connection cap on purpose: the client-abort-leak experiment must see leaked sockets climb.
    connections: null,
  });
}

/** Closes the pool, letting in-flight requests finish for a while, then cuts what is left (a leaked export never finishes). */
export async function closePool(pool: Pool, graceMs = 2_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const cut = new Promise<'cut'>((resolve) => {
    timer = setTimeout(() => resolve('cut'), graceMs);
  });
  const outcome = await Promise.race([pool.close().then(() => 'closed' as const), cut]);
  clearTimeout(timer);
  if (outcome === 'cut') await pool.destroy();
}

/** Larger JSON answers from recipe-api are not expected; reading stops there instead of buffering. */
const maxAnswerBytes = 1024 * 1024;

export async function readBody(body: Dispatcher.ResponseData['body'], via: Via): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      size += (chunk as Buffer).length;
      if (size > maxAnswerBytes) {
        body.destroy();
        throw badAnswerError(via, `answer larger than ${maxAnswerBytes} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    throw fromTransportError(error, via);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export interface JsonRequest {
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  headers?: Record<string, string | undefined>;
  body?: unknown;
  signal: AbortSignal;
}

/** Sends one request and reads a JSON answer; every failure is an UpstreamError. */
export async function requestJson(
  pool: Dispatcher,
  via: Via,
  request: JsonRequest,
): Promise<{ status: number; json: unknown }> {
  const headers: Record<string, string> = { accept: 'application/json' };
  for (const [name, value] of Object.entries(request.headers ?? {})) if (value !== undefined) headers[name] = value;
  if (request.body !== undefined) headers['content-type'] = 'application/json';
  let response: Dispatcher.ResponseData;
  try {
    response = await pool.request({
      method: request.method,
      path: request.path,
      headers,
      body: request.body === undefined ? null : JSON.stringify(request.body),
      signal: request.signal,
    });
  } catch (error) {
    throw fromTransportError(error, via);
  }
  const text = await readBody(response.body, via);
  const json = parseJson(text);
  return { status: response.statusCode, json };
}

/** For REST: a 2xx with a JSON body, or the mapped error. */
export function expectSuccess(answer: { status: number; json: unknown }, via: Via): unknown {
  if (answer.status < 200 || answer.status >= 300) throw fromHttpStatus(answer.status, answer.json, via);
  if (answer.json === undefined) throw badAnswerError(via, `status ${answer.status} without a JSON body`);
  return answer.json;
}
