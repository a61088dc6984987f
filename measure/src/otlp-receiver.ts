import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { type CollectedSpan, decodeOtlpTraces } from './otlp-decode.js';
import { waitFor } from './net.js';

/**
 * The one OTLP/HTTP trace receiver: tests point `OTEL_EXPORTER_OTLP_ENDPOINT` at `endpoint`, and
 * the lab's trace sink is this receiver with an `onSpans` that appends to its NDJSON file.
 * `POST /v1/traces` in either protocol the services support (`http/json` and the SDK default
 * `http/protobuf`, gzip or not); `/v1/metrics` and `/v1/logs` are accepted and counted, so an
 * exporter switched on by mistake shows up in `requests` instead of as connection errors;
 * `GET /healthz` answers readiness. An undecodable body gets 400 so the exporter does not retry it
 * (OTLP/HTTP specification, "Failures").
 */

export type {
  AttributeValue,
  Attributes,
  CollectedSpan,
  SpanKindName,
  StatusCodeName,
} from './otlp-decode.js';

const gunzip = promisify(zlib.gunzip);

export interface SpanNode {
  span: CollectedSpan;
  children: SpanNode[];
}

export interface OtlpReceiverOptions {
  host?: string;
  /** 0 (default) for a free port. */
  port?: number;
  /** Called with every decoded export before it is acknowledged; a rejection answers 500. */
  onSpans?: (spans: CollectedSpan[]) => Promise<void> | void;
  /** Keep spans in memory for `spans()`, `trace()`, `waitFor()` (default true; a long-running sink says false). */
  keep?: boolean;
}

export interface OtlpReceiver {
  /** Base URL for `OTEL_EXPORTER_OTLP_ENDPOINT` (the exporter appends `/v1/traces`). */
  endpoint: string;
  port: number;
  /** Export requests seen, by signal and protocol (e.g. `traces/json`). */
  requests: Map<string, number>;
  spans(): CollectedSpan[];
  /** Spans of one trace, ordered by start time. */
  trace(traceId: string): CollectedSpan[];
  traceIds(): string[];
  /** The trace as a tree (spans whose parent never arrived are roots too). */
  tree(traceId: string): SpanNode[];
  /** Polls until `select` returns something truthy for the spans received so far. */
  waitFor<T>(
    select: (spans: CollectedSpan[]) => T | undefined | null | false,
    options?: { timeoutMs?: number; what?: string },
  ): Promise<T>;
  clear(): void;
  close(): Promise<void>;
}

const signals: Record<string, string> = { '/v1/traces': 'traces', '/v1/metrics': 'metrics', '/v1/logs': 'logs' };

export async function startOtlpReceiver(options: OtlpReceiverOptions = {}): Promise<OtlpReceiver> {
  const collected: CollectedSpan[] = [];
  const keep = options.keep ?? true;
  const requests = new Map<string, number>();
  const count = (key: string) => requests.set(key, (requests.get(key) ?? 0) + 1);

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const contentType = req.headers['content-type'] ?? '';
    const json = contentType.includes('json');
    const reply = (status: number, body = '') =>
      res
        .writeHead(status, { 'content-type': json ? 'application/json' : 'application/x-protobuf' })
        .end(json && !body ? '{}' : body);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    const signal = signals[path];
    if (req.method !== 'POST' || !signal) return reply(404);
    count(`${signal}/${json ? 'json' : 'protobuf'}`);
    if (signal !== 'traces') return reply(200);
    let spans: CollectedSpan[];
    try {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = await gunzip(body);
      spans = decodeOtlpTraces(contentType, body).spans;
    } catch (error) {
      count('traces/undecodable');
      return reply(400, json ? JSON.stringify({ error: `cannot decode OTLP traces: ${String(error)}` }) : '');
    }
    try {
      await options.onSpans?.(spans);
    } catch (error) {
      return reply(500, json ? JSON.stringify({ error: String(error) }) : '');
    }
    if (keep) collected.push(...spans);
    reply(200);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;

  const trace = (traceId: string) =>
    collected.filter((s) => s.traceId === traceId).sort((a, b) => (a.startTimeUnixNano < b.startTimeUnixNano ? -1 : 1));

  return {
    endpoint: `http://${address}:${port}`,
    port,
    requests,
    spans: () => [...collected],
    trace,
    traceIds: () => [...new Set(collected.map((s) => s.traceId))],
    tree(traceId) {
      const spans = trace(traceId);
      const nodes = new Map(spans.map((span) => [span.spanId, { span, children: [] as SpanNode[] }]));
      const roots: SpanNode[] = [];
      for (const node of nodes.values()) {
        const parent = node.span.parentSpanId ? nodes.get(node.span.parentSpanId) : undefined;
        (parent ? parent.children : roots).push(node);
      }
      return roots;
    },
    waitFor(select, { timeoutMs = 10_000, what = 'spans' } = {}) {
      return waitFor(() => select([...collected]), { timeoutMs, intervalMs: 50, what });
    },
    clear() {
      collected.length = 0;
      requests.clear();
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A trace as an indented waterfall, for assertion messages: `service kind name [status] ms`. */
export function formatTrace(roots: SpanNode[], indent = ''): string {
  return roots
    .map(({ span, children }) => {
      const status = span.status.code === 'UNSET' ? '' : ` [${span.status.code}]`;
      const line = `${indent}${span.service} ${span.kind} ${span.name}${status} ${span.durationMs.toFixed(1)}ms`;
      return [line, formatTrace(children, `${indent}  `)].filter(Boolean).join('\n');
    })
    .join('\n');
}
