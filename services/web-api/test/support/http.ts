import http from 'node:http';

export interface JsonAnswer {
  status: number;
  headers: Headers;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- test assertions read any field
}

export async function call(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown; rawBody?: string } = {},
): Promise<JsonAnswer> {
  const headers: Record<string, string> = { ...init.headers };
  let body: string | undefined = init.rawBody;
  if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(url, { method: init.method ?? 'GET', headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${init.method ?? 'GET'} ${url}: ${res.status} answer is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, headers: res.headers, json };
}

/**
 * Starts a download with node:http (which, unlike fetch, lets the test stop reading and hang up
 * at a chosen moment) and resolves once `bytes` have arrived, with the response paused.
 */
export function startDownload(
  url: string,
  bytes: number,
): Promise<{ res: http.IncomingMessage; received: string; abort(): void }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let received = '';
      const onData = (chunk: Buffer) => {
        received += chunk.toString('utf8');
        if (received.length >= bytes) {
          res.off('data', onData);
          res.pause();
          resolve({ res, received, abort: () => req.destroy() });
        }
      };
      res.on('data', onData);
      res.once('end', () => reject(new Error(`download ended after ${received.length} bytes`)));
    });
    // After `abort()` the request errors with ECONNRESET; by then the promise is settled.
    req.on('error', reject);
  });
}
