import protobuf from 'protobufjs';

/**
 * Decodes OTLP/HTTP trace exports (ExportTraceServiceRequest) in both encodings OTLP/HTTP allows:
 * protobuf (the Node SDK's `http/protobuf` default and Envoy's OpenTelemetry tracer) and JSON
 * (`http/json`). Shared by the tests' receiver and the lab's trace sink. Written against a subset
 * of opentelemetry-proto because @opentelemetry/otlp-transformer 0.223 no longer ships decoders.
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

/**
 * The subset of opentelemetry-proto (collector/trace/v1, trace/v1, common/v1, resource/v1) that
 * spans need, as a protobufjs descriptor. Field names are the proto3 JSON names, so a decoded
 * message has the same shape as an OTLP/JSON body.
 */
const otlpTraceDescriptor = {
  nested: {
    ExportTraceServiceRequest: { fields: { resourceSpans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } } },
    ResourceSpans: {
      fields: { resource: { type: 'Resource', id: 1 }, scopeSpans: { rule: 'repeated', type: 'ScopeSpans', id: 2 } },
    },
    Resource: { fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
    ScopeSpans: {
      fields: { scope: { type: 'InstrumentationScope', id: 1 }, spans: { rule: 'repeated', type: 'Span', id: 2 } },
    },
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
      oneofs: {
        value: {
          oneof: ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue'],
        },
      },
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
  kind?: number | string;
  startTimeUnixNano?: string | number;
  endTimeUnixNano?: string | number;
  attributes?: RawKeyValue[];
  events?: { name?: string; timeUnixNano?: string | number; attributes?: RawKeyValue[] }[];
  links?: { traceId?: string; spanId?: string }[];
  status?: { code?: number | string; message?: string };
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

/** OTLP/JSON may carry enums as numbers or as names such as `SPAN_KIND_SERVER`. */
function enumName<T extends string>(value: number | string | undefined, names: readonly T[], prefix: string): T {
  const index = typeof value === 'string' ? names.indexOf(value.replace(prefix, '') as T) : (value ?? 0);
  return names[index] ?? names[0]!;
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
        // An all-zero parent id is how some exporters (Envoy) say "root".
        const parentSpanId = /^0*$/.test(id(raw.parentSpanId)) ? '' : id(raw.parentSpanId);
        spans.push({
          traceId: id(raw.traceId),
          spanId: id(raw.spanId),
          ...(parentSpanId ? { parentSpanId } : {}),
          name: raw.name ?? '',
          kind: enumName(raw.kind, spanKinds, 'SPAN_KIND_'),
          startTimeUnixNano: start,
          endTimeUnixNano: end,
          durationMs: Number(end - start) / 1e6,
          attributes: attributes(raw.attributes),
          status: {
            code: enumName(raw.status?.code, statusCodes, 'STATUS_CODE_'),
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

/** Decodes one export request body by its content type (anything not JSON is protobuf). */
export function decodeOtlpTraces(
  contentType: string,
  body: Uint8Array,
): { protocol: 'json' | 'protobuf'; spans: CollectedSpan[] } {
  if (contentType.includes('json')) {
    return { protocol: 'json', spans: toSpans(JSON.parse(Buffer.from(body).toString('utf8')) as RawRequest, hexId) };
  }
  const message = exportTraceServiceRequest.decode(body);
  const object = exportTraceServiceRequest.toObject(message, { longs: String, bytes: String, defaults: false });
  return { protocol: 'protobuf', spans: toSpans(object as RawRequest, base64Id) };
}
