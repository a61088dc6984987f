import protobuf from 'protobufjs';

/**
 * Decoding OTLP trace exports (ExportTraceServiceRequest) from both encodings OTLP/HTTP allows:
 * protobuf (what Envoy's OpenTelemetry tracer and the Node `http/protobuf` exporter send) and
 * JSON (`http/json`). The schema below is the subset of opentelemetry-proto
 * (opentelemetry/proto/{common,resource,trace}/v1, collector/trace/v1) that carries spans,
 * with the upstream field numbers; protobufjs parses it at load time.
 */
const otlpTraceProto = `
syntax = "proto3";
package opentelemetry.proto;

message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }

message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  string trace_state = 3;
  bytes parent_span_id = 4;
  fixed32 flags = 16;
  string name = 5;
  int32 kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9;
  uint32 dropped_attributes_count = 10;
  repeated Event events = 11;
  uint32 dropped_events_count = 12;
  repeated Link links = 13;
  uint32 dropped_links_count = 14;
  Status status = 15;
}
message Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
message Link { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; repeated KeyValue attributes = 4; uint32 dropped_attributes_count = 5; fixed32 flags = 6; }
message Status { string message = 2; int32 code = 3; }
`;

const root = protobuf.parse(otlpTraceProto, { keepCase: false }).root;
const ExportTraceServiceRequest = root.lookupType('opentelemetry.proto.ExportTraceServiceRequest');

/** One span as the sink stores it (one NDJSON line). */
export interface StoredSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  /** OTLP SpanKind name: INTERNAL, SERVER, CLIENT, PRODUCER, CONSUMER, UNSPECIFIED. */
  kind: string;
  service: string;
  scope: string;
  startUnixNano: string;
  endUnixNano: string;
  /** Start in ms since the epoch (float) and duration in ms, for sorting and drawing. */
  startMs: number;
  durationMs: number;
  statusCode: 'UNSET' | 'OK' | 'ERROR';
  statusMessage: string;
  attributes: Record<string, unknown>;
}

const kinds = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];
const statusCodes = ['UNSET', 'OK', 'ERROR'] as const;

// The decoded/JSON shapes are loose: protobufjs's toObject and OTLP JSON differ in id encoding
// (bytes vs hex string) and in enum spelling (number vs name), both handled below.
interface LooseKeyValue { key: string; value?: LooseAnyValue }
interface LooseAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: LooseAnyValue[] };
  kvlistValue?: { values?: LooseKeyValue[] };
  bytesValue?: string;
}
interface LooseSpan {
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  name?: string;
  kind?: number | string;
  startTimeUnixNano?: string | number;
  endTimeUnixNano?: string | number;
  attributes?: LooseKeyValue[];
  status?: { code?: number | string; message?: string };
}
interface LooseRequest {
  resourceSpans?: {
    resource?: { attributes?: LooseKeyValue[] };
    scopeSpans?: { scope?: { name?: string }; spans?: LooseSpan[] }[];
  }[];
}

function anyValue(v: LooseAnyValue | undefined): unknown {
  if (!v) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(anyValue);
  if (v.kvlistValue) return attributes(v.kvlistValue.values);
  if (v.bytesValue !== undefined) return v.bytesValue;
  return null;
}

function attributes(list: LooseKeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list ?? []) out[kv.key] = anyValue(kv.value);
  return out;
}

/** OTLP JSON carries ids as hex; protobufjs's toObject (bytes: String) gives base64. */
function normalizeId(id: string | undefined, isBase64: boolean): string {
  if (!id) return '';
  return isBase64 ? Buffer.from(id, 'base64').toString('hex') : id.toLowerCase();
}

function enumIndex(value: number | string | undefined, names: readonly string[], prefix: string): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    const i = names.indexOf(value.replace(prefix, ''));
    return i < 0 ? 0 : i;
  }
  return 0;
}

function flatten(request: LooseRequest, idsAreBase64: boolean): StoredSpan[] {
  const out: StoredSpan[] = [];
  for (const rs of request.resourceSpans ?? []) {
    const resource = attributes(rs.resource?.attributes);
    const service = String(resource['service.name'] ?? 'unknown');
    for (const ss of rs.scopeSpans ?? []) {
      for (const span of ss.spans ?? []) {
        const start = BigInt(span.startTimeUnixNano ?? 0);
        const end = BigInt(span.endTimeUnixNano ?? 0);
        const parent = normalizeId(span.parentSpanId, idsAreBase64);
        out.push({
          traceId: normalizeId(span.traceId, idsAreBase64),
          spanId: normalizeId(span.spanId, idsAreBase64),
          parentSpanId: parent && !/^0+$/.test(parent) ? parent : null,
          name: span.name ?? '',
          kind: kinds[enumIndex(span.kind, kinds, 'SPAN_KIND_')] ?? 'UNSPECIFIED',
          service,
          scope: ss.scope?.name ?? '',
          startUnixNano: start.toString(),
          endUnixNano: end.toString(),
          startMs: Number(start / 1000n) / 1000,
          durationMs: Number(end - start) / 1e6,
          statusCode: statusCodes[enumIndex(span.status?.code, statusCodes, 'STATUS_CODE_')] ?? 'UNSET',
          statusMessage: span.status?.message ?? '',
          attributes: attributes(span.attributes),
        });
      }
    }
  }
  return out;
}

export function decodeProtobufTraces(body: Uint8Array): StoredSpan[] {
  const message = ExportTraceServiceRequest.decode(body);
  const object = ExportTraceServiceRequest.toObject(message, { longs: String, bytes: String, defaults: false });
  return flatten(object as LooseRequest, true);
}

export function decodeJsonTraces(body: string): StoredSpan[] {
  return flatten(JSON.parse(body) as LooseRequest, false);
}
