import { readFile } from 'node:fs/promises';
import { countBy, flagsKey, outcomeKey, parseResponseFlags } from './outcomes.js';

/**
 * Istio's default TEXT access-log format (meshConfig.accessLogFormat unset; Istio 1.22+ prints
 * %UPSTREAM_CLUSTER_RAW%). It carries %RESPONSE_FLAGS% (UC, UF, URX, DC...) and
 * %UPSTREAM_TRANSPORT_FAILURE_REASON%, the fields "Debugging HTTP 503 UC errors" reads; the
 * field meanings are in Envoy's access-log docs (configuration/observability/access_log/usage).
 */
export const istioTextFormat =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" ' +
  '%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% ' +
  '"%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ' +
  '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" ' +
  '"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% ' +
  '%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% ' +
  '%REQUESTED_SERVER_NAME% %ROUTE_NAME%\n';

/**
 * Reads Envoy access-log lines written in Istio's default text format (Istio ≥ 1.8,
 * `EnvoyTextLogFormat` in istio/istio, extended by istio/istio#27903 with response code details
 * and connection termination details):
 *
 *   [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%
 *   %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%
 *   "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
 *   %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
 *   "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER%
 *   %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS%
 *   %REQUESTED_SERVER_NAME% %ROUTE_NAME%
 *
 * The same reader serves the lab's Envoy logs and `kubectl logs -c istio-proxy`, so a line read
 * on either target means the same thing. Envoy writes `-` for every empty value.
 */

export interface AccessLogEntry {
  startTime: string;
  /** Parsed START_TIME, ms since the epoch (NaN when unparseable). */
  startMs: number;
  method: string;
  path: string;
  protocol: string;
  /** 0 when no response started (the downstream went away first). */
  responseCode: number;
  /** Envoy response flags, e.g. ['UC'], ['URX', 'UF']; empty for `-`. */
  responseFlags: string[];
  /** e.g. `upstream_reset_before_response_started{connection_termination}`; null for `-`. */
  responseCodeDetails: string | null;
  connectionTerminationDetails: string | null;
  upstreamTransportFailureReason: string | null;
  bytesReceived: number;
  bytesSent: number;
  durationMs: number;
  upstreamServiceTimeMs: number | null;
  forwardedFor: string | null;
  userAgent: string | null;
  requestId: string | null;
  authority: string | null;
  upstreamHost: string | null;
  upstreamCluster: string | null;
  routeName: string | null;
  /** The line as read, for the report. */
  raw: string;
}

/** Splits on spaces, keeping `[...]` and `"..."` (with `\"` escapes) as single tokens without their delimiters. */
function tokenize(line: string): string[] | null {
  const tokens: string[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i];
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === '[') {
      const end = line.indexOf(']', i + 1);
      if (end < 0) return null;
      tokens.push(line.slice(i + 1, end));
      i = end + 1;
    } else if (c === '"') {
      let j = i + 1;
      let value = '';
      while (j < line.length && line[j] !== '"') {
        if (line[j] === '\\' && j + 1 < line.length) j++;
        value += line[j];
        j++;
      }
      if (j >= line.length) return null;
      tokens.push(value);
      i = j + 1;
    } else {
      let j = i;
      while (j < line.length && line[j] !== ' ' && line[j] !== '\t') j++;
      tokens.push(line.slice(i, j));
      i = j;
    }
  }
  return tokens;
}

const dash = (v: string | undefined): string | null => (v === undefined || v === '-' || v === '' ? null : v);
const num = (v: string | undefined): number | null => {
  const s = dash(v);
  if (s === null) return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
};

/** One parsed entry, or null when the line is not an access-log line (Envoy's own log, blank…). */
export function parseAccessLogLine(line: string): AccessLogEntry | null {
  const trimmed = line.trim();
  if (!trimmed.startsWith('[')) return null;
  const t = tokenize(trimmed);
  // 24 fields in Istio's format; the request line is one quoted token of three words.
  if (!t || t.length < 22) return null;
  const request = (t[1] ?? '').split(' ');
  const responseCode = num(t[2]);
  if (request.length < 2 || responseCode === null) return null;
  return {
    startTime: t[0] ?? '',
    startMs: Date.parse(t[0] ?? ''),
    method: request[0] ?? '',
    path: request[1] ?? '',
    protocol: request[2] ?? '',
    responseCode,
    responseFlags: parseResponseFlags(t[3]),
    responseCodeDetails: dash(t[4]),
    connectionTerminationDetails: dash(t[5]),
    upstreamTransportFailureReason: dash(t[6]),
    bytesReceived: num(t[7]) ?? 0,
    bytesSent: num(t[8]) ?? 0,
    durationMs: num(t[9]) ?? 0,
    upstreamServiceTimeMs: num(t[10]),
    forwardedFor: dash(t[11]),
    userAgent: dash(t[12]),
    requestId: dash(t[13]),
    authority: dash(t[14]),
    upstreamHost: dash(t[15]),
    upstreamCluster: dash(t[16]),
    routeName: dash(t[21]),
    raw: trimmed,
  };
}

export function parseAccessLog(text: string): AccessLogEntry[] {
  const out: AccessLogEntry[] = [];
  for (const line of text.split('\n')) {
    const entry = parseAccessLogLine(line);
    if (entry) out.push(entry);
  }
  return out;
}

/** Counts entries by `status flags` (measure/src/outcomes.ts), most frequent first. */
export function countByStatusAndFlag(entries: readonly AccessLogEntry[]): Record<string, number> {
  return countBy(entries, (e) => outcomeKey(e.responseCode, e.responseFlags));
}

/**
 * The 503 UC of "Debugging HTTP 503 UC Errors in Istio Service Mesh": the upstream (the app)
 * closed a pooled keep-alive connection that Envoy had just picked for a request.
 */
export function isUpstreamConnectionTermination(e: AccessLogEntry): boolean {
  return (
    e.responseCode === 503 &&
    e.responseFlags.includes('UC') &&
    (e.responseCodeDetails ?? '').startsWith('upstream_reset_before_response_started{connection_termination')
  );
}

/** Entries of one Envoy's access log file, optionally only those that started at or after `sinceMs`. */
export async function readAccessLog(file: string, sinceMs = 0): Promise<AccessLogEntry[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return parseAccessLog(text).filter((e) => sinceMs === 0 || e.startMs >= sinceMs);
}

/** Counts by response flags (`-`, `UC`, `URX,UF`...), the first thing to read after an incident. */
export function countByResponseFlags(entries: readonly AccessLogEntry[]): Record<string, number> {
  return countBy(entries, (e) => flagsKey(e.responseFlags));
}
