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
 * - Instrumentations: only what the services use (http, undici, express, graphql, grpc, ioredis),
 *   not the auto-instrumentations meta package, which measured about half the throughput of a bare
 *   express app here (docs/architecture.md, "Measured facts"). OTEL_NODE_DISABLED_INSTRUMENTATIONS
 *   (that package's variable, e.g. `express,grpc`) removes some of them.
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
import { NodeSDK, type NodeSDKConfiguration } from '@opentelemetry/sdk-node';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { ExpressInstrumentation, ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { GraphQLInstrumentation } from '@opentelemetry/instrumentation-graphql';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { isUntracedPort, registerTelemetryShutdown } from './telemetry-handle.js';
import { createEnabled } from './telemetry-instrumentations.js';

/** Probe and scrape paths: polled every few seconds, they would drown real traffic in traces. */
const untracedPaths = new Set(['/livez', '/readyz', '/startupz', '/metrics']);

function isUntracedRequest(req: IncomingMessage): boolean {
  if (isUntracedPort(req.socket?.localPort)) return true;
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  return untracedPaths.has(query === -1 ? url : url.slice(0, query));
}

/**
 * Only what the services use, by the name OTEL_NODE_DISABLED_INSTRUMENTATIONS gives each. Each is
 * built only if it stays: an instrumentation patches its module when constructed, not when the SDK
 * registers it.
 */
const instrumentationFactories = {
  http: () => new HttpInstrumentation({ ignoreIncomingRequestHook: isUntracedRequest }),
  // web-api's HTTP and GraphQL calls go through undici (diagnostics_channel, no module patching).
  undici: () => new UndiciInstrumentation(),
  // The server span is named after the matched route (`GET /recipes/:id`, `http.route`) whether
  // or not a layer gets a span of its own. The request handler's span stays: it carries the
  // exception a failing handler throws. A span per middleware (body parser, faults, …) only costs
  // throughput, and router spans end the moment they start (an upstream TODO in
  // instrumentation-express); spans are the largest per-request cost at 100% sampling
  // (docs/benchmarks.md).
  express: () =>
    new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE, ExpressLayerType.ROUTER] }),
  // parse/validate/execute spans plus resolvers that do work; field-access resolvers are noise.
  graphql: () => new GraphQLInstrumentation({ ignoreTrivialResolveSpans: true }),
  grpc: () => new GrpcInstrumentation(),
  // Only commands inside a request: connection chatter and background jobs stay out of traces.
  // The default statement serializer keeps keys but never values.
  ioredis: () => new IORedisInstrumentation({ requireParentSpan: true }),
} satisfies Record<string, () => Instrumentation>;

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

function createSdk(): NodeSDK {
  const config: Partial<NodeSDKConfiguration> = {
    instrumentations: createEnabled(instrumentationFactories, getStringFromEnv('OTEL_NODE_DISABLED_INSTRUMENTATIONS')),
  };
  const propagator = defaultPropagator();
  if (propagator) config.textMapPropagator = propagator;
  // An empty list means "none"; leaving the key out lets the SDK build what the variable asks for.
  if (getStringFromEnv('OTEL_METRICS_EXPORTER') === undefined) config.metricReaders = [];
  if (getStringFromEnv('OTEL_LOGS_EXPORTER') === undefined) config.logRecordProcessors = [];
  const serviceName = fallbackServiceName();
  if (serviceName) config.serviceName = serviceName;
  return new NodeSDK(config);
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
  const sdk = createSdk();
  sdk.start();
  registerTelemetryShutdown(() => sdk.shutdown());
  await waitForAllMessagesAcknowledged();
  return sdk;
}

await startTelemetry();
