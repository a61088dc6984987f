import { readFile } from 'node:fs/promises';

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

export interface AccessLogEntry {
  startTime: string;
  /** Parsed START_TIME, ms since the epoch (NaN when unparseable). */
  startMs: number;
  method: string;
  path: string;
  protocol: string;
  responseCode: number;
  /** `-` when Envoy set none. */
  responseFlags: string;
  responseCodeDetails: string;
  connectionTerminationDetails: string;
  upstreamTransportFailureReason: string;
  bytesReceived: number;
  bytesSent: number;
  durationMs: number;
  upstreamServiceTime: string;
  xForwardedFor: string;
  userAgent: string;
  requestId: string;
  authority: string;
  upstreamHost: string;
  upstreamCluster: string;
  upstreamLocalAddress: string;
  downstreamLocalAddress: string;
  downstreamRemoteAddress: string;
  requestedServerName: string;
  routeName: string;
  raw: string;
}

// Quoted fields may be "-"; unquoted ones are single tokens (Envoy writes `-` for empty).
const linePattern = new RegExp(
  [
    String.raw`^\[(?<startTime>[^\]]+)\]`,
    String.raw`"(?<method>\S+) (?<path>\S+) (?<protocol>[^"]+)"`,
    String.raw`(?<code>\d+)`,
    String.raw`(?<flags>\S+)`,
    String.raw`(?<details>\S+)`,
    String.raw`(?<termination>\S+)`,
    String.raw`"(?<transport>[^"]*)"`,
    String.raw`(?<rx>\d+)`,
    String.raw`(?<tx>\d+)`,
    String.raw`(?<duration>\d+)`,
    String.raw`(?<ust>\S+)`,
    String.raw`"(?<xff>[^"]*)"`,
    String.raw`"(?<ua>[^"]*)"`,
    String.raw`"(?<rid>[^"]*)"`,
    String.raw`"(?<authority>[^"]*)"`,
    String.raw`"(?<uhost>[^"]*)"`,
    String.raw`(?<cluster>\S+)`,
    String.raw`(?<ulocal>\S+)`,
    String.raw`(?<dlocal>\S+)`,
    String.raw`(?<dremote>\S+)`,
    String.raw`(?<sni>\S+)`,
    String.raw`(?<route>\S+)$`,
  ].join(' '),
);

export function parseAccessLogLine(line: string): AccessLogEntry | null {
  const m = linePattern.exec(line.trim());
  if (!m?.groups) return null;
  const g = m.groups as Record<string, string>;
  return {
    startTime: g.startTime!,
    startMs: Date.parse(g.startTime!),
    method: g.method!,
    path: g.path!,
    protocol: g.protocol!,
    responseCode: Number(g.code),
    responseFlags: g.flags!,
    responseCodeDetails: g.details!,
    connectionTerminationDetails: g.termination!,
    upstreamTransportFailureReason: g.transport!,
    bytesReceived: Number(g.rx),
    bytesSent: Number(g.tx),
    durationMs: Number(g.duration),
    upstreamServiceTime: g.ust!,
    xForwardedFor: g.xff!,
    userAgent: g.ua!,
    requestId: g.rid!,
    authority: g.authority!,
    upstreamHost: g.uhost!,
    upstreamCluster: g.cluster!,
    upstreamLocalAddress: g.ulocal!,
    downstreamLocalAddress: g.dlocal!,
    downstreamRemoteAddress: g.dremote!,
    requestedServerName: g.sni!,
    routeName: g.route!,
    raw: line,
  };
}

/** Entries of one Envoy's access log, optionally only those that started at or after `sinceMs`. */
export async function readAccessLog(file: string, sinceMs = 0): Promise<AccessLogEntry[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const out: AccessLogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const entry = parseAccessLogLine(line);
    if (entry && (sinceMs === 0 || entry.startMs >= sinceMs)) out.push(entry);
  }
  return out;
}

/** Counts by response flag (`-`, `UC`, `URX,UF`...), the first thing to read after an incident. */
export function countByResponseFlags(entries: AccessLogEntry[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of entries) counts[e.responseFlags] = (counts[e.responseFlags] ?? 0) + 1;
  return counts;
}
