import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';
import { waitFor } from './net.js';

/**
 * An OTLP/HTTP trace receiver for tests: point `OTEL_EXPORTER_OTLP_ENDPOINT` at `endpoint` and it
 * collects every span exported to `POST /v1/traces`, in either protocol the services support
 * (`http/json` and the SDK default `http/protobuf`, gzip or not), and assembles them by trace id.
 * `/v1/metrics` and `/v1/logs` are accepted and counted, so an exporter switched on by mistake
 * shows up in `requests` instead of as connection errors.
 */

export type AttributeValue = string | number | boolean | null | AttributeValue[] | { [key: string]: AttributeValue };
export type Attributes = Record<string, AttributeValue>;

/** SpanKind numbers of opentelemetry-proto trace.proto. */
const spanKinds = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'] as const;
export type SpanKindName = (typeof spanKinds)[number];
const statusCodes = ['UNSET', 'OK', 'ERROR'] as const;
export type StatusCodeName = (typeof statusCodes)[number];

export interface CollectedSpan {
  traceId: string;
  spanId: string;
  /** Absent on a trace's root span. */
  parentSpanId?: string;
  name: string;
  kind: SpanKindName;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  durationMs: number;
  attributes: Attributes;
  status: { code: StatusCodeName; message?: string };
  events: { name: string; timeUnixNano: bigint; attributes: Attributes }[];
  links: { traceId: string; spanId: string }[];
  resource: Attributes;
  /** `service.name` of the resource, for convenience. */
  service: string;
  scope: { name: string; version?: string };
}

export interface SpanNode {
  span: CollectedSpan;
  children: SpanNode[];
}

export interface OtlpReceiver {
  /** Base URL for `OTEL_EXPORTER_OTLP_ENDPOINT` (the exporter appends `/v1/traces`). */
  endpoint: string;
  /** Export requests seen, by signal and protocol (e.g. `traces/json`). */
  requests: Map<string, number>;
  spans(): CollectedSpan[];
  /** Spans of one trace, ordered by start time. */
  trace(traceId: string): CollectedSpan[];
  traceIds(): string[];
  /** The trace as a tree (spans whose parent never arrived are roots too). */
  tree(traceId: string): SpanNode[];
  /** Polls until `select` returns something truthy for the spans received so far. */
  waitFor<T>(select: (spans: CollectedSpan[]) => T | undefined | null | false, options?: { timeoutMs?: number; what?: string }): Promise<T>;
  clear(): void;
  close(): Promise<void>;
}

/**
 * The subset of opentelemetry-proto (collector/trace/v1, trace/v1, common/v1, resource/v1) that
 * spans need, as a protobufjs descriptor. Field names are the proto3 JSON names, so a decoded
 * message has the same shape as an OTLP/JSON body.
 */
const otlpTraceDescriptor = {
  nested: {
    ExportTraceServiceRequest: { fields: { resourceSpans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } } },
    ResourceSpans: { fields: { resource: { type: 'Resource', id: 1 }, scopeSpans: { rule: 'repeated', type: 'ScopeSpans', id: 2 } } },
    Resource: { fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
    ScopeSpans: { fields: { scope: { type: 'InstrumentationScope', id: 1 }, spans: { rule: 'repeated', type: 'Span', id: 2 } } },
    InstrumentationScope: { fields: { name: { type: 'string', id: 1 }, version: { type: 'string', id: 2 } } },
    Span: {
      fields: {
        traceId: { type: 'bytes', id: 1 },
        spanId: { type: 'bytes', id: 2 },
        parentSpanId: { type: 'bytes', id: 4 },
        name: { type: 'string', id: 5 },
        kind: { type: 'int32', id: 6 },
        startTimeUnixNano: { type: 'fixed64', id: 7 },
        endTimeUnixNano: { type: 'fixed64', id: 8 },
        attributes: { rule: 'repeated', type: 'KeyValue', id: 9 },
        events: { rule: 'repeated', type: 'Event', id: 11 },
        links: { rule: 'repeated', type: 'Link', id: 13 },
        status: { type: 'Status', id: 15 },
      },
    },
    Event: {
      fields: {
        timeUnixNano: { type: 'fixed64', id: 1 },
        name: { type: 'string', id: 2 },
        attributes: { rule: 'repeated', type: 'KeyValue', id: 3 },
      },
    },
    Link: { fields: { traceId: { type: 'bytes', id: 1 }, spanId: { type: 'bytes', id: 2 } } },
    Status: { fields: { message: { type: 'string', id: 2 }, code: { type: 'int32', id: 3 } } },
    KeyValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } },
    AnyValue: {
      oneofs: { value: { oneof: ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue'] } },
      fields: {
        stringValue: { type: 'string', id: 1 },
        boolValue: { type: 'bool', id: 2 },
        intValue: { type: 'int64', id: 3 },
        doubleValue: { type: 'double', id: 4 },
        arrayValue: { type: 'ArrayValue', id: 5 },
        kvlistValue: { type: 'KeyValueList', id: 6 },
        bytesValue: { type: 'bytes', id: 7 },
      },
    },
    ArrayValue: { fields: { values: { rule: 'repeated', type: 'AnyValue', id: 1 } } },
    KeyValueList: { fields: { values: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
  },
};
const exportTraceServiceRequest = protobuf.Root.fromJSON(otlpTraceDescriptor).lookupType('ExportTraceServiceRequest');

/** OTLP/JSON and decoded protobuf, loosely typed: both come from outside the test. */
interface RawKeyValue {
  key?: string;
  value?: RawAnyValue;
}
interface RawAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: RawAnyValue[] };
  kvlistValue?: { values?: RawKeyValue[] };
  bytesValue?: string;
}
interface RawSpan {
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  name?: string;
  kind?: number;
  startTimeUnixNano?: string | number;
  endTimeUnixNano?: string | number;
  attributes?: RawKeyValue[];
  events?: { name?: string; timeUnixNano?: string | number; attributes?: RawKeyValue[] }[];
  links?: { traceId?: string; spanId?: string }[];
  status?: { code?: number; message?: string };
}
interface RawRequest {
  resourceSpans?: {
    resource?: { attributes?: RawKeyValue[] };
    scopeSpans?: { scope?: { name?: string; version?: string }; spans?: RawSpan[] }[];
  }[];
}

function anyValue(value: RawAnyValue | undefined): AttributeValue {
  if (!value) return null;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(anyValue);
  if (value.kvlistValue) return attributes(value.kvlistValue.values);
  if (value.bytesValue !== undefined) return value.bytesValue;
  return null;
}

function attributes(list: RawKeyValue[] | undefined): Attributes {
  const out: Attributes = {};
  for (const kv of list ?? []) if (kv.key !== undefined) out[kv.key] = anyValue(kv.value);
  return out;
}

function toSpans(body: RawRequest, id: (raw: string | undefined) => string): CollectedSpan[] {
  const spans: CollectedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const resource = attributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      const scope = { name: ss.scope?.name ?? '', ...(ss.scope?.version ? { version: ss.scope.version } : {}) };
      for (const raw of ss.spans ?? []) {
        const start = BigInt(raw.startTimeUnixNano ?? 0);
        const end = BigInt(raw.endTimeUnixNano ?? 0);
        const parentSpanId = id(raw.parentSpanId);
        spans.push({
          traceId: id(raw.traceId),
          spanId: id(raw.spanId),
          ...(parentSpanId ? { parentSpanId } : {}),
          name: raw.name ?? '',
          kind: spanKinds[raw.kind ?? 0] ?? 'UNSPECIFIED',
          startTimeUnixNano: start,
          endTimeUnixNano: end,
          durationMs: Number(end - start) / 1e6,
          attributes: attributes(raw.attributes),
          status: {
            code: statusCodes[raw.status?.code ?? 0] ?? 'UNSET',
            ...(raw.status?.message ? { message: raw.status.message } : {}),
          },
          events: (raw.events ?? []).map((e) => ({
            name: e.name ?? '',
            timeUnixNano: BigInt(e.timeUnixNano ?? 0),
            attributes: attributes(e.attributes),
          })),
          links: (raw.links ?? []).map((l) => ({ traceId: id(l.traceId), spanId: id(l.spanId) })),
          resource,
          service: String(resource['service.name'] ?? ''),
          scope,
        });
      }
    }
  }
  return spans;
}

/** OTLP/JSON carries ids as hex (OTLP spec, "JSON Protobuf Encoding"); protobufjs gives base64. */
const hexId = (raw: string | undefined) => (raw ?? '').toLowerCase();
const base64Id = (raw: string | undefined) => (raw ? Buffer.from(raw, 'base64').toString('hex') : '');

function decode(contentType: string, body: Buffer): { protocol: 'json' | 'protobuf'; spans: CollectedSpan[] } {
  if (contentType.includes('json')) {
    return { protocol: 'json', spans: toSpans(JSON.parse(body.toString('utf8')) as RawRequest, hexId) };
  }
  const message = exportTraceServiceRequest.decode(body);
  const object = exportTraceServiceRequest.toObject(message, { longs: String, bytes: String, defaults: false });
  return { protocol: 'protobuf', spans: toSpans(object as RawRequest, base64Id) };
}

export async function startOtlpReceiver(options: { host?: string; port?: number } = {}): Promise<OtlpReceiver> {
  const collected: CollectedSpan[] = [];
  const requests = new Map<string, number>();
  const count = (key: string) => requests.set(key, (requests.get(key) ?? 0) + 1);

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const contentType = req.headers['content-type'] ?? '';
      const json = contentType.includes('json');
      const reply = (status: number, body = '') =>
        res.writeHead(status, { 'content-type': json ? 'application/json' : 'application/x-protobuf' }).end(json && !body ? '{}' : body);
      const path = (req.url ?? '/').split('?')[0];
      const signal = { '/v1/traces': 'traces', '/v1/metrics': 'metrics', '/v1/logs': 'logs' }[path ?? ''];
      if (req.method !== 'POST' || !signal) return reply(404);
      count(`${signal}/${json ? 'json' : 'protobuf'}`);
      if (signal !== 'traces') return reply(200);
      try {
        let body = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        collected.push(...decode(contentType, body).spans);
        reply(200);
      } catch (error) {
        count('traces/undecodable');
        reply(400, json ? JSON.stringify({ error: String(error) }) : '');
      }
    });
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
