/**
 * The server span of each incoming HTTP/1 request, made from Node's `http` diagnostics channel
 * instead of instrumentation-http's patch of `Server.prototype.emit`, and the same span: its
 * tracer is instrumentation-http's (scope name and version), its name, attributes and status come
 * from instrumentation-http's own helpers (`getIncomingRequestAttributes`, the route express
 * records in the RPC metadata, `parseResponseStatus`), and its parent is the propagators' reading
 * of the request headers (traceparent, B3). services/platform/test/http-server-spans.test.ts holds
 * it against the stock instrumentation's span.
 *
 * Why not an option: instrumentation-http (0.223) runs every request through its emit wrapper and
 * binds the context to `req` and `res` with `context.bind`, which patches eight methods of each
 * emitter (`on`, `once`, `addListener`, `prepend…`, `removeListener`, `off`, …) and wraps
 * every listener added later (express, on-finished, the access log) in a context switch of its
 * own; none of its options removes that work but `disableIncomingRequestInstrumentation`, which
 * removes the span. The undici instrumentation does
 * the client side from diagnostics channels already; the server side has no such instrumentation
 * upstream. docs/benchmarks.md measures the difference.
 *
 * `http.server.request.start` is published synchronously right before the server emits `request`
 * (node:_http_server `parserOnIncoming`), so entering the request's context there
 * (`AsyncLocalStorageContextManager.attach`, i.e. `AsyncLocalStorage.enterWith`) makes it the active
 * context of the handler and of everything the handler schedules; the events of `req` and `res`
 * are emitted in it too (one wrapper around each one's `emit`). Every request enters one, the
 * ignored ones a context with tracing suppressed (as the stock instrumentation does), so no
 * request inherits another's. The span ends on the response's `close`, which follows a finished
 * response and an aborted one alike, as the stock instrumentation's does.
 *
 * What it leaves out, because the services use none of it: instrumentation-http's hooks
 * (`requestHook`, `startIncomingSpanHook`, …), header capture, and its `http.server.request.duration`
 * metric (no OTel meter provider exists unless OTEL_METRICS_EXPORTER asks for one; telemetry.ts
 * keeps the stock instrumentation then); and the exception of a `request` listener that throws or
 * a response `error` event, which the stock span records: express catches a handler's error and
 * answers it, and instrumentation-express records it on the `request handler` span.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ROOT_CONTEXT,
  SpanKind,
  diag,
  propagation,
  trace,
  type Context,
  type ContextManager,
  type Tracer,
} from '@opentelemetry/api';
import { RPCType, setRPCMetadata, suppressTracing, type RPCMetadata } from '@opentelemetry/core';
import type { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  getIncomingRequestAttributes,
  parseResponseStatus,
} from '@opentelemetry/instrumentation-http/build/src/utils.js';
import { DEFAULT_QUERY_STRINGS_TO_REDACT } from '@opentelemetry/instrumentation-http/build/src/internal-types.js';
import { ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE } from '@opentelemetry/semantic-conventions';

interface RequestStart {
  request: IncomingMessage;
  response: ServerResponse;
}

export interface HttpServerSpanOptions {
  /** instrumentation-http's tracer, so the span's scope is the stock one's. */
  tracer: Tracer;
  /** The SDK's context manager: the one whose context the handler reads. */
  contextManager: AsyncLocalStorageContextManager;
  /** Requests that get no span, and run with tracing suppressed (probes, scrapes, the admin port). */
  ignore: (request: IncomingMessage) => boolean;
}

const redactedQueryParams = [...DEFAULT_QUERY_STRINGS_TO_REDACT];

/**
 * One wrapper around the emitter's own `emit`, where instrumentation-http's `context.bind` patches
 * eight methods and wraps every listener added later.
 */
function emitInContext(emitter: EventEmitter, requestContext: Context, contextManager: ContextManager): void {
  const emit = emitter.emit;
  emitter.emit = function emitInRequestContext(this: EventEmitter, ...args: Parameters<EventEmitter['emit']>) {
    return contextManager.with(requestContext, emit, this, ...args);
  };
}

/** Starts making server spans; the returned function stops. */
export function traceHttpServerRequests(options: HttpServerSpanOptions): () => void {
  const { tracer, contextManager, ignore } = options;
  const onRequestStart = (message: unknown) => {
    const { request, response } = message as RequestStart;
    if (ignore(request)) {
      contextManager.attach(suppressTracing(ROOT_CONTEXT));
      return;
    }
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const attributes = getIncomingRequestAttributes(
      request,
      { component: 'http', enableSyntheticSourceDetection: false, redactedQueryParams },
      diag,
    );
    const method = request.method || 'GET';
    const span = tracer.startSpan(method, { kind: SpanKind.SERVER, attributes }, parent);
    // instrumentation-express writes the matched route here (`rpcMetadata.route`).
    const rpcMetadata: RPCMetadata = { type: RPCType.HTTP, span };
    const requestContext = setRPCMetadata(trace.setSpan(parent, span), rpcMetadata);
    contextManager.attach(requestContext);
    // Events of `req` and `res` run in the request's context, as under the stock instrumentation:
    // a body that arrives in a later chunk than the headers (body-parser continues the chain on
    // `end`), and the access line written on `res` `finish` or `close` (a client that left).
    emitInContext(request, requestContext, contextManager);
    emitInContext(response, requestContext, contextManager);
    response.once('close', () => {
      const { statusCode } = response;
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, statusCode);
      if (rpcMetadata.route !== undefined) {
        span.setAttribute(ATTR_HTTP_ROUTE, rpcMetadata.route);
        span.updateName(`${method} ${rpcMetadata.route}`);
      }
      span.setStatus({ code: parseResponseStatus(SpanKind.SERVER, statusCode) });
      span.end();
    });
  };
  subscribe('http.server.request.start', onRequestStart);
  return () => unsubscribe('http.server.request.start', onRequestStart);
}
