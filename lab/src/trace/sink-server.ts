import { appendFile } from 'node:fs/promises';
import http from 'node:http';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { decodeJsonTraces, decodeProtobufTraces, type StoredSpan } from './otlp.js';

const gunzip = promisify(zlib.gunzip);

export interface TraceSinkOptions {
  port: number;
  host?: string;
  /** NDJSON file every received span is appended to. */
  file: string;
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  return req.headers['content-encoding'] === 'gzip' ? gunzip(body) : body;
}

/**
 * An OTLP/HTTP trace receiver (POST /v1/traces, protobuf or JSON per Content-Type, gzip
 * allowed) that appends spans to an NDJSON file: enough collector for one machine, with no
 * collector binary to install. GET /healthz answers readiness.
 */
export function createTraceSink(options: TraceSinkOptions): http.Server {
  // Appends are chained so lines from concurrent exports never interleave.
  let writes: Promise<void> = Promise.resolve();
  const store = (spans: StoredSpan[]) => {
    if (spans.length === 0) return writes;
    const text = `${spans.map((s) => JSON.stringify(s)).join('\n')}\n`;
    writes = writes.then(() => appendFile(options.file, text));
    return writes;
  };

  return http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://sink');
    if (req.method === 'GET' && url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (req.method !== 'POST' || url.pathname !== '/v1/traces') {
      res.writeHead(404).end();
      return;
    }
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    const isJson = contentType === 'application/json';
    try {
      const body = await readBody(req);
      const spans = isJson ? decodeJsonTraces(body.toString('utf8')) : decodeProtobufTraces(body);
      await store(spans);
      // An empty ExportTraceServiceResponse: `{}` in JSON, zero bytes in protobuf.
      if (isJson) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    } catch (error) {
      // OTLP/HTTP: 400 for a request that cannot be decoded, so the exporter does not retry it.
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`cannot decode OTLP traces: ${String(error)}\n`);
    }
  });
}
