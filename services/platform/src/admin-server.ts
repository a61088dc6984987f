import http from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry, RegistryContentType } from 'prom-client';
import type { Health } from './health.js';
import { FaultValidationError, type FaultRegistry } from './faults.js';
import { errorBody } from './errors.js';
import { listen, type ManagedServer, manageServer } from './http-server.js';
import { markUntracedPort } from './telemetry-handle.js';
import { openMetricsToPrometheusText } from './metrics.js';

const prometheusContentType = 'text/plain; version=0.0.4; charset=utf-8';

export interface AdminServerOptions {
  host: string;
  port: number;
  registry: Registry<RegistryContentType>;
  health: Health;
  /** Any service's registry: the admin port only reads, replaces and clears the document. */
  faults: Pick<FaultRegistry, 'clear'> & { get(): unknown; set(input: unknown): unknown };
  logger: Logger;
  adminToken?: string | undefined;
}

const maxFaultBodyBytes = 64 * 1024;

/**
 * The admin port: probes, metrics and faults, never routed by the ingress. Plain node:http on
 * purpose: it must keep answering when the traffic stack (express, faults) misbehaves, and faults
 * never apply here (as podinfo keeps its fault injection off probes and /metrics).
 */
export async function startAdminServer(options: AdminServerOptions): Promise<ManagedServer> {
  const { registry, health, faults, logger, adminToken } = options;

  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const authorized = (req: http.IncomingMessage) => {
    if (!adminToken) return true;
    const given = Buffer.from(req.headers.authorization ?? '');
    const expected = Buffer.from(`Bearer ${adminToken}`);
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  const readJson = (req: http.IncomingMessage) =>
    new Promise<unknown>((resolve, reject) => {
      let size = 0;
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxFaultBodyBytes) {
          reject(Object.assign(new Error('fault document too large'), { status: 413 }));
          req.destroy();
        } else chunks.push(chunk);
      });
      req.on('end', () => {
        try {
          resolve(chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {});
        } catch {
          reject(Object.assign(new Error('body is not valid JSON'), { status: 400 }));
        }
      });
      req.on('error', reject);
    });

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    switch (`${req.method} ${path}`) {
      case 'GET /metrics': {
        // OpenMetrics (with exemplars) only when asked, as Prometheus does; else the text format.
        const openMetrics = await registry.metrics();
        if (/application\/openmetrics-text/.test(req.headers.accept ?? '')) {
          res.writeHead(200, { 'content-type': registry.contentType }).end(openMetrics);
        } else {
          res.writeHead(200, { 'content-type': prometheusContentType }).end(openMetricsToPrometheusText(openMetrics));
        }
        return;
      }
      case 'GET /livez':
        send(res, 200, { status: 'ok' });
        return;
      case 'GET /readyz': {
        const { ready, checks } = await health.readiness();
        send(res, ready ? 200 : 503, { status: ready ? 'ok' : 'fail', checks });
        return;
      }
      case 'GET /startupz':
        send(res, health.isStarted() ? 200 : 503, { status: health.isStarted() ? 'ok' : 'fail' });
        return;
    }
    if (path === '/faults') {
      if (!authorized(req)) return send(res, 401, errorBody('UNAUTHORIZED', 'admin token required'));
      if (req.method === 'GET') return send(res, 200, faults.get());
      if (req.method === 'DELETE') {
        faults.clear();
        logger.warn({ faults: {} }, 'faults cleared');
        return send(res, 200, faults.get());
      }
      if (req.method === 'PUT') {
        try {
          const doc = faults.set(await readJson(req));
          logger.warn({ faults: doc }, 'faults set');
          return send(res, 200, doc);
        } catch (error) {
          if (error instanceof FaultValidationError) {
            return send(res, 400, errorBody('VALIDATION_FAILED', error.message, { details: error.issues }));
          }
          const status = (error as { status?: number }).status ?? 400;
          return send(
            res,
            status,
            errorBody(status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST', (error as Error).message),
          );
        }
      }
      res.setHeader('allow', 'GET, PUT, DELETE');
      return send(res, 405, errorBody('BAD_REQUEST', `method ${req.method} not allowed on /faults`));
    }
    send(res, 404, errorBody('NOT_FOUND', `no admin endpoint ${req.method} ${path}`));
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error({ err: error }, 'admin request failed');
      if (!res.headersSent) send(res, 500, errorBody('INTERNAL', 'admin request failed'));
    });
  });
  markUntracedPort(await listen(server, options.port, options.host, 'admin'));
  return manageServer(server);
}
