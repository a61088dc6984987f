import http from 'node:http';
import { parseArgs } from 'node:util';
import { type ExporterClock, podMetrics } from './istio-exporter.js';

/**
 * The exporter process: GET /metrics/<app> is one pod's text (every pod of an app serves the same
 * numbers). Its clock starts at Prometheus' first scrape, not at launch: on a busy machine
 * Prometheus can take longer to start than the baseline lasts, and the "before" queries would
 * find nothing. GET /clock answers the clock once it runs (null before).
 */
const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    namespace: { type: 'string' },
    'baseline-ms': { type: 'string' },
  },
});
let clock: ExporterClock | null = null;
const server = http.createServer((req, res) => {
  if (req.url === '/clock') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(clock));
    return;
  }
  const app = /^\/metrics\/([\w-]+)$/.exec(req.url ?? '')?.[1];
  if (!app) {
    res.writeHead(404).end();
    return;
  }
  const now = Date.now();
  if (!clock && req.headers['user-agent']?.startsWith('Prometheus/'))
    clock = { startMs: now, switchAtMs: now + Number(values['baseline-ms']), namespace: values.namespace ?? '' };
  const text = clock ? podMetrics(app, now, clock) : '';
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text);
});
server.listen(Number(values.port), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
