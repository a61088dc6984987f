import http from 'node:http';
import { parseArgs } from 'node:util';
import { type ExporterClock, podMetrics } from './istio-exporter.js';

/** The exporter process: GET /metrics/<app> is one pod's text (every pod of an app serves the same numbers). */
const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    namespace: { type: 'string' },
    start: { type: 'string' },
    'switch-at': { type: 'string' },
  },
});
const clock: ExporterClock = {
  startMs: Number(values.start),
  switchAtMs: Number(values['switch-at']),
  namespace: values.namespace ?? '',
};
const server = http.createServer((req, res) => {
  const app = /^\/metrics\/([\w-]+)$/.exec(req.url ?? '')?.[1];
  if (!app) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(podMetrics(app, Date.now(), clock));
});
server.listen(Number(values.port), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
