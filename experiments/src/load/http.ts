import http from 'node:http';
import type { Readable } from 'node:stream';
import { parseResponseFlags } from '@recipe-mesh/measure/outcomes';
import type { RequestRecord } from '@recipe-mesh/measure/requests';

/**
 * Single requests with exact control over timing, connections and bodies — what the special
 * loads need (bursts timed to a keep-alive expiry, downloads aborted halfway, streamed multipart
 * uploads). Steady loads use the autocannon module (measure/src/load.ts).
 */

export interface RequestSpec {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | string | (() => Readable);
  agent?: http.Agent;
  timeoutMs?: number;
  flagsHeader?: string;
  /** Stop reading and destroy the connection after this many body bytes (a client going away). */
  abortAfterBytes?: number;
}

export function sendRequest(spec: RequestSpec): Promise<RequestRecord> {
  const started = performance.now();
  const startedAtMs = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (record: Omit<RequestRecord, 'startedAtMs' | 'latencyMs' | 'burst'>) => {
      if (settled) return;
      settled = true;
      resolve({ ...record, startedAtMs, latencyMs: performance.now() - started, burst: 0 });
    };
    // The answer, once its head arrived: a server may answer before it has read the whole body
    // (a 413 to an oversized upload) and close, so writing the rest fails after the answer came.
    let answered: { status: number; flags: ReturnType<typeof parseResponseFlags> } | null = null;
    const req = http.request(
      spec.url,
      { method: spec.method ?? 'GET', headers: spec.headers, agent: spec.agent ?? false },
      (res) => {
        const header = spec.flagsHeader ? res.headers[spec.flagsHeader.toLowerCase()] : undefined;
        const flags = parseResponseFlags(typeof header === 'string' ? header : null);
        answered = { status: res.statusCode ?? 0, flags };
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (spec.abortAfterBytes !== undefined && bytes >= spec.abortAfterBytes) {
            done({ status: res.statusCode ?? 0, flags, error: 'aborted by client', bytes });
            req.destroy();
          }
        });
        res.on('end', () => done({ status: res.statusCode ?? 0, flags, error: null, bytes }));
        res.on('error', (error) => done({ status: res.statusCode ?? 0, flags, error: error.message, bytes }));
        res.on('close', () => done({ status: res.statusCode ?? 0, flags, error: null, bytes }));
      },
    );
    req.setTimeout(spec.timeoutMs ?? 15_000, () => req.destroy(new Error('timeout')));
    req.on('error', (error) =>
      done({ status: answered?.status ?? 0, flags: answered?.flags ?? [], error: error.message, bytes: 0 }),
    );
    const body = spec.body;
    if (typeof body === 'function') {
      const stream = body();
      stream.on('error', (error) => req.destroy(error));
      stream.pipe(req);
    } else {
      req.end(body);
    }
  });
}
