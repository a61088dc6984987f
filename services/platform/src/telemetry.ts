/**
 * OpenTelemetry bootstrap, loaded before the app with a node flag:
 *
 *   node --import @recipe-mesh/platform/telemetry services/<svc>/dist/main.js
 *
 * Configured only by the standard `OTEL_*` variables, which the NodeSDK reads itself
 * (OTEL_SDK_DISABLED, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_ENDPOINT,
 * OTEL_EXPORTER_OTLP_PROTOCOL http/protobuf (default) | http/json | grpc, OTEL_TRACES_SAMPLER(_ARG),
 * OTEL_TRACES_EXPORTER, OTEL_BSP_*). Only the defaults differ from the SDK's, each for a reason:
 *
 * - Propagators: W3C tracecontext + baggage + B3 multi-header unless OTEL_PROPAGATORS is set.
 *   Envoy and Istio sidecars forward and emit B3 (x-b3-*) headers; extracting both keeps Node spans
 *   and mesh spans in one trace whichever header a hop carries (docs/contracts.md).
 * - No OTel metrics or logs pipeline unless OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER ask for one:
 *   metrics are prom-client on the admin port and logs are pino on stdout, so the SDK's default
 *   OTLP exporters would only send duplicates (or connection errors) every minute.
 * - Resource detectors: the SDK's own env + process + host (no cloud detectors, which probe
 *   metadata endpoints and print warnings off-cloud); OTEL_NODE_RESOURCE_DETECTORS still wins.
 * - Instrumentations: @opentelemetry/auto-instrumentations-node's `getNodeAutoInstrumentations`,
 *   with only what the services use enabled (http, undici, express, graphql, grpc, ioredis) and
 *   options of their own; the package's defaults (every instrumentation it knows) measured about
 *   half the throughput of a bare express app here (docs/architecture.md, "Measured facts"; the
 *   bench's P0 row). Its variables still choose among the six: OTEL_NODE_ENABLED_INSTRUMENTATIONS
 *   and OTEL_NODE_DISABLED_INSTRUMENTATIONS (e.g. `express,grpc`). Importing the package loads all
 *   of its instrumentation modules whichever are built (docs/benchmarks.md prices that).
 *
 * The app is ESM, so patching `import`ed packages needs import-in-the-middle's loader hook as well
 * as require-in-the-middle (OpenTelemetry JS doc/esm-support.md). The hook is told which modules
 * the instrumentations hook and intercepts only those (createAddHookMessageChannel), so every other
 * module, including the app's own TypeScript under tsx, loads untouched. Where Node can run it
 * (`supportsSyncHooks`: 22.22.3+, 24.11.1+, the images' Node 24), the hook runs in the app's own
 * thread through `module.registerHooks`; `module.register` runs it on a thread of its own with a
 * second V8 isolate, about 14 MiB of resident memory per process (docs/benchmarks.md, "Memory").
 */
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { createAddHookMessageChannel } from 'import-in-the-middle';
import { register as registerSyncHooks, supportsSyncHooks } from 'import-in-the-middle/register-hooks.mjs';
import type { IncomingMessage } from 'node:http';
import {
  CompositePropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
  getBooleanFromEnv,
  getStringFromEnv,
} from '@opentelemetry/core';
import { B3InjectEncoding, B3Propagator } from '@opentelemetry/propagator-b3';
import { trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { NodeSDK, type NodeSDKConfiguration } from '@opentelemetry/sdk-node';
import { ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { isUntracedPort, registerTelemetryShutdown } from './telemetry-handle.js';
import { onlyThese, type UsedInstrumentations } from './telemetry-instrumentations.js';
import { traceHttpServerRequests } from './http-server-spans.js';

/** Probe and scrape paths: polled every few seconds, they would drown real traffic in traces. */
const untracedPaths = new Set(['/livez', '/readyz', '/startupz', '/metrics']);

function isUntracedRequest(req: IncomingMessage): boolean {
  if (isUntracedPort(req.socket?.localPort)) return true;
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  return untracedPaths.has(query === -1 ? url : url.slice(0, query));
}

/**
 * Server spans from Node's `http` diagnostics channel (http-server-spans.ts) rather than
 * instrumentation-http's incoming side, which costs more per request (docs/benchmarks.md); unless
 * OTEL_METRICS_EXPORTER asks for OTel metrics (anything but unset or `none`, which the lab and the
 * Deployments set), whose `http.server.request.duration` only the stock instrumentation records.
 */
const otelMetricsExporter = getStringFromEnv('OTEL_METRICS_EXPORTER');
const serverSpansFromDiagnosticsChannel = otelMetricsExporter === undefined || otelMetricsExporter === 'none';

/** Only what the services use, with their options; every other instrumentation stays unbuilt. */
const usedInstrumentations: UsedInstrumentations = {
  // Outgoing requests stay with it (web-api's go through undici); incoming ones, see above.
  '@opentelemetry/instrumentation-http': serverSpansFromDiagnosticsChannel
    ? { disableIncomingRequestInstrumentation: true }
    : { ignoreIncomingRequestHook: isUntracedRequest },
  // web-api's HTTP and GraphQL calls go through undici (diagnostics_channel, no module patching).
  '@opentelemetry/instrumentation-undici': {},
  // The server span is named after the matched route (`GET /recipes/:id`, `http.route`) whether
  // or not a layer gets a span of its own. The request handler's span stays: it carries the
  // exception a failing handler throws. A span per middleware (body parser, faults, …) only costs
  // throughput, and router spans end the moment they start (an upstream TODO in
  // instrumentation-express); spans are the largest per-request cost at 100% sampling
  // (docs/benchmarks.md).
  '@opentelemetry/instrumentation-express': {
    ignoreLayersType: [ExpressLayerType.MIDDLEWARE, ExpressLayerType.ROUTER],
  },
  // parse/validate/execute spans plus resolvers that do work; field-access resolvers are noise.
  '@opentelemetry/instrumentation-graphql': { ignoreTrivialResolveSpans: true },
  '@opentelemetry/instrumentation-grpc': {},
  // Only commands inside a request: connection chatter and background jobs stay out of traces.
  // The default statement serializer keeps keys but never values.
  '@opentelemetry/instrumentation-ioredis': { requireParentSpan: true },
};

/** W3C tracecontext + baggage + B3 multi-header, unless OTEL_PROPAGATORS chooses (the SDK reads it). */
function defaultPropagator(): NodeSDKConfiguration['textMapPropagator'] | undefined {
  if (getStringFromEnv('OTEL_PROPAGATORS') !== undefined) return undefined;
  return new CompositePropagator({
    propagators: [
      new W3CTraceContextPropagator(),
      new W3CBaggagePropagator(),
      new B3Propagator({ injectEncoding: B3InjectEncoding.MULTI_HEADER }),
    ],
  });
}

/**
 * `service.name` when neither OTEL_SERVICE_NAME nor OTEL_RESOURCE_ATTRIBUTES names one: the
 * `services/<name>/` folder of the entry script, so a forgotten variable does not leave spans as
 * `unknown_service:node`.
 */
function fallbackServiceName(): string | undefined {
  if (getStringFromEnv('OTEL_SERVICE_NAME')) return undefined;
  if (/(^|,)\s*service\.name\s*=/.test(getStringFromEnv('OTEL_RESOURCE_ATTRIBUTES') ?? '')) return undefined;
  return /services[\\/]([^\\/]+)[\\/]/.exec(process.argv[1] ?? '')?.[1];
}

interface Telemetry {
  sdk: NodeSDK;
  instrumentations: Instrumentation[];
  contextManager: AsyncLocalStorageContextManager;
}

async function createSdk(): Promise<Telemetry> {
  // Imported here, not at the top: the package loads every one of its ~40 instrumentation modules
  // whichever are built (about 270 modules and 7 MiB resident, docs/benchmarks.md), which a
  // process started with OTEL_SDK_DISABLED=true need not pay.
  const { getNodeAutoInstrumentations } = await import('@opentelemetry/auto-instrumentations-node');
  const instrumentations = getNodeAutoInstrumentations(onlyThese(usedInstrumentations));
  // The SDK's default context manager, built here so the server spans can enter a request's context.
  const contextManager = new AsyncLocalStorageContextManager();
  const config: Partial<NodeSDKConfiguration> = { instrumentations, contextManager };
  const propagator = defaultPropagator();
  if (propagator) config.textMapPropagator = propagator;
  // An empty list means "none"; leaving the key out lets the SDK build what the variable asks for.
  if (getStringFromEnv('OTEL_METRICS_EXPORTER') === undefined) config.metricReaders = [];
  if (getStringFromEnv('OTEL_LOGS_EXPORTER') === undefined) config.logRecordProcessors = [];
  const serviceName = fallbackServiceName();
  if (serviceName) config.serviceName = serviceName;
  return { sdk: new NodeSDK(config), instrumentations, contextManager };
}

/**
 * Registers the ESM hook, starts the SDK and hands its shutdown (which flushes queued spans) to
 * the app's graceful shutdown via telemetry-handle.ts. Resolves once the loader knows every module
 * to patch, so the app's static imports that follow are already covered.
 */
async function startTelemetry(): Promise<NodeSDK | undefined> {
  // Loader hooks run on their own thread and workers inherit the flag: start once, in the app.
  if (!isMainThread) return undefined;
  if (getBooleanFromEnv('OTEL_SDK_DISABLED')) return undefined;
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  // The same options either way: the synchronous hook listens on the message port in this thread.
  if (supportsSyncHooks()) registerSyncHooks(registerOptions.data);
  else register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);
  const { sdk, instrumentations, contextManager } = await createSdk();
  sdk.start();
  // Only where instrumentation-http is built (OTEL_NODE_*_INSTRUMENTATIONS may leave it out).
  const http = instrumentations.find((i) => i.instrumentationName === '@opentelemetry/instrumentation-http');
  if (serverSpansFromDiagnosticsChannel && http) {
    const tracer = trace.getTracer(http.instrumentationName, http.instrumentationVersion);
    traceHttpServerRequests({ tracer, contextManager, ignore: isUntracedRequest });
  }
  registerTelemetryShutdown(() => sdk.shutdown());
  await waitForAllMessagesAcknowledged();
  return sdk;
}

await startTelemetry();
