import type { CollectedSpan } from './otlp-decode.js';

/**
 * The lab sink's file format: a span from the shared decoder (otlp-decode.ts) flattened
 * into the one-line-per-span shape the sink stores as NDJSON.
 */

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

export function toStoredSpan(span: CollectedSpan): StoredSpan {
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId: span.parentSpanId ?? null,
    name: span.name,
    kind: span.kind,
    service: span.service || 'unknown',
    scope: span.scope.name,
    startUnixNano: span.startTimeUnixNano.toString(),
    endUnixNano: span.endTimeUnixNano.toString(),
    startMs: Number(span.startTimeUnixNano / 1000n) / 1000,
    durationMs: span.durationMs,
    statusCode: span.status.code,
    statusMessage: span.status.message ?? '',
    attributes: span.attributes,
  };
}
