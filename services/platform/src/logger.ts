import { pino, type Logger, type LoggerOptions } from 'pino';
import { trace, isSpanContextValid } from '@opentelemetry/api';

export type { Logger };

/**
 * pino JSON to stdout. Every line written inside a request carries the active span's
 * `trace_id`/`span_id`, so a log line leads to its trace in Tempo and back.
 */
export function createLogger(service: string, level: LoggerOptions['level'] = 'info'): Logger {
  return pino({
    level,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.token'], remove: true },
    mixin() {
      const span = trace.getActiveSpan();
      if (!span) return {};
      const ctx = span.spanContext();
      return isSpanContextValid(ctx) ? { trace_id: ctx.traceId, span_id: ctx.spanId } : {};
    },
  });
}
