import type { StoredSpan } from '@recipe-mesh/measure/stored-span';
import { parseResponseFlags } from '@recipe-mesh/measure/outcomes';

/**
 * Questions experiments ask of one trace (spans as the lab's trace sink stores them: Envoy spans
 * from the ingress and sidecars, and the Node services' spans, joined by W3C trace context).
 * Rendering is the lab's waterfall (lab/src/trace/waterfall.ts), so `lab trace <id>` and a
 * report show the same picture.
 */
export type TraceSpan = Pick<
  StoredSpan,
  'traceId' | 'spanId' | 'parentSpanId' | 'service' | 'name' | 'startMs' | 'durationMs' | 'attributes'
>;

/** Every span below `rootId` (not including it). */
export function descendants<S extends TraceSpan>(spans: readonly S[], rootId: string): S[] {
  const out: S[] = [];
  const frontier = [rootId];
  while (frontier.length) {
    const id = frontier.pop()!;
    for (const s of spans) {
      if (s.parentSpanId === id) {
        out.push(s);
        frontier.push(s.spanId);
      }
    }
  }
  return out;
}

const attr = (s: TraceSpan, ...keys: string[]): string | undefined => {
  for (const k of keys) {
    const v = s.attributes[k];
    if (v !== undefined && v !== null) return String(v);
  }
  return undefined;
};

/** HTTP status a span recorded (Envoy: `http.status_code`; OTel semconv: `http.response.status_code`). */
export function spanStatus(s: TraceSpan): number | undefined {
  const v = attr(s, 'http.status_code', 'http.response.status_code');
  return v === undefined ? undefined : Number(v);
}

/** Envoy tags each span with its `response_flags` (`-` when none). */
export function spanResponseFlags(s: TraceSpan): string[] {
  return parseResponseFlags(attr(s, 'response_flags'));
}

/** Groups spans by trace id. */
export function groupTraces<S extends TraceSpan>(spans: readonly S[]): S[][] {
  const byId = new Map<string, S[]>();
  for (const s of spans) {
    const list = byId.get(s.traceId) ?? [];
    list.push(s);
    byId.set(s.traceId, list);
  }
  return [...byId.values()];
}

/**
 * The trace of "Debugging HTTP 503 UC Errors": a span written by the app's sidecar (`proxyService`)
 * that ended 503 with flag UC, with no span of the app (`appService`) under it — the request died
 * on the pooled connection between sidecar and app, so the app never saw it.
 */
export function findSidecarOnlyFailure<S extends TraceSpan>(
  traces: readonly S[][],
  proxyService: string,
  appService: string,
): { trace: S[]; span: S } | null {
  for (const trace of traces) {
    for (const span of trace) {
      if (span.service !== proxyService) continue;
      if (spanStatus(span) !== 503 || !spanResponseFlags(span).includes('UC')) continue;
      if (descendants(trace, span.spanId).some((d) => d.service === appService)) continue;
      return { trace, span };
    }
  }
  return null;
}
