import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import readline from 'node:readline';
import type { StoredSpan } from '@recipe-mesh/measure/stored-span';

/** Every span in the sink's NDJSON file (missing file: none). */
export async function readSpans(file: string): Promise<StoredSpan[]> {
  try {
    await access(file);
  } catch {
    return [];
  }
  const spans: StoredSpan[] = [];
  const lines = readline.createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    try {
      spans.push(JSON.parse(line) as StoredSpan);
    } catch {
      /* a line cut by a crash mid-write: skip it */
    }
  }
  return spans;
}

export interface TraceSummary {
  traceId: string;
  startMs: number;
  durationMs: number;
  spanCount: number;
  services: string[];
  /** The root span's name (the earliest span when the root was not received). */
  rootName: string;
  errors: number;
}

export function groupByTrace(spans: StoredSpan[]): Map<string, StoredSpan[]> {
  const traces = new Map<string, StoredSpan[]>();
  for (const span of spans) {
    const list = traces.get(span.traceId) ?? [];
    list.push(span);
    traces.set(span.traceId, list);
  }
  return traces;
}

export function summarize(traceId: string, spans: StoredSpan[]): TraceSummary {
  const start = Math.min(...spans.map((s) => s.startMs));
  const end = Math.max(...spans.map((s) => s.startMs + s.durationMs));
  const ids = new Set(spans.map((s) => s.spanId));
  const root = spans.find((s) => !s.parentSpanId || !ids.has(s.parentSpanId));
  return {
    traceId,
    startMs: start,
    durationMs: end - start,
    spanCount: spans.length,
    services: [...new Set(spans.map((s) => s.service))],
    rootName: root ? `${root.service}: ${root.name}` : '',
    errors: spans.filter((s) => s.statusCode === 'ERROR').length,
  };
}

/** The last `n` traces by start time, newest last. */
export async function lastTraces(file: string, n: number): Promise<TraceSummary[]> {
  const traces = groupByTrace(await readSpans(file));
  return [...traces]
    .map(([id, spans]) => summarize(id, spans))
    .sort((a, b) => a.startMs - b.startMs)
    .slice(-n);
}

/** Spans of one trace; a unique id prefix is enough, as with git hashes. */
export async function findTrace(file: string, idOrPrefix: string): Promise<StoredSpan[]> {
  const wanted = idOrPrefix.toLowerCase();
  const traces = groupByTrace(await readSpans(file));
  const exact = traces.get(wanted);
  if (exact) return exact;
  const matches = [...traces.keys()].filter((id) => id.startsWith(wanted));
  if (matches.length > 1) throw new Error(`trace id prefix ${idOrPrefix} matches ${matches.length} traces`);
  return matches.length === 1 ? traces.get(matches[0]!)! : [];
}
