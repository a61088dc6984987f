import http from 'node:http';
import { createRuntime, exitOnStartupError } from '@recipe-mesh/platform/runtime';
import { createApp } from './app.js';
import { createUpstreams } from './clients/upstreams.js';
import { loadWebApiConfig } from './config.js';
import { webApiSwitches } from './faults.js';

const service = 'web-api';

/** Wiring only: config → runtime (logger, metrics, admin) → recipe-api clients → listener → shutdown. */
async function main(): Promise<void> {
  const config = loadWebApiConfig();
  const runtime = await createRuntime(service, config, webApiSwitches);
  const { metrics, health } = runtime;

  const upstreams = createUpstreams(config, metrics);
  // Closed after the listeners have stopped, so in-flight requests can still reach recipe-api.
  runtime.addDependencyClose('recipe-api http pool', upstreams.closeHttpPool);
  runtime.addDependencyClose('recipe-api grpc channel', upstreams.closeGrpcChannel);

  // Readiness deliberately has no recipe-api check. Every web-api replica shares the same
  // recipe-api: if readiness followed it, one slow or restarting recipe-api would take every
  // web-api replica out of the load balancer at once, and clients would get connection errors from
  // the ingress instead of web-api's own 503/504 JSON answers. web-api stays ready and reports the
  // dependency per request (status, `upstream_request_duration_seconds{outcome}`).
  const app = createApp({
    runtime,
    upstreams,
    menuConcurrency: config.MENU_CONCURRENCY,
    jsonBodyLimitBytes: config.JSON_BODY_LIMIT_BYTES,
    deadlineReserveMs: config.UPSTREAM_DEADLINE_RESERVE_MS,
  });
  await runtime.serveHttp(http.createServer(app), config.PORT, 'http');

  // Listening: startup is done, readiness may pass.
  health.markStarted();
  runtime.enableShutdown();
}

main().catch((error: unknown) => exitOnStartupError(service, error));
