// The floors of `make bench`: the least a Node server, an express app and a graphql-yoga server
// can cost for the same answer recipe-api gives, so each service's req/s reads as a ratio to what
// its framework allows on this machine. `express-observed` is the peer P1: the express floor plus
// what a user adds for metrics and logs (prom-client's default metrics, one pino line per
// request); P0 and P1 get OpenTelemetry from the bench's node flags (`--import
// @opentelemetry/auto-instrumentations-node/register`, scripts/bench/peers.ts), not from here.
// Started as a child process (never inside the load generator's event loop):
// `floor-server.ts <node-http|express|express-observed|yoga> <answer.json>`; prints
// `listening <port>` once bound to 127.0.0.1 on a free port.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { pino } from 'pino';
import client from 'prom-client';
import { createSchema, createYoga } from 'graphql-yoga';
import { typeDefs } from '@recipe-mesh/recipe-api/entry-points/graphql/schema';

const [kind, answerFile] = process.argv.slice(2);
// { rest: <GET /recipes/42 body>, graphqlData: <data of the GetRecipe query> }
const answer = JSON.parse(readFileSync(answerFile!, 'utf8')) as { rest: unknown; graphqlData: { recipe: unknown } };
const restBody = JSON.stringify(answer.rest);

/** express serving the answer (etag and x-powered-by off, as recipe-api), after `before`'s routes and middleware. */
function expressApp(before: (app: express.Express) => void = () => {}): express.Express {
  const app = express();
  app.set('etag', false);
  app.set('x-powered-by', false);
  before(app);
  app.get('/recipes/:id', (_req, res) => {
    res.json(answer.rest);
  });
  return app;
}

function build(): http.Server {
  switch (kind) {
    case 'node-http':
      return http.createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(restBody) });
        res.end(restBody);
      });
    case 'express':
      return http.createServer(expressApp());
    case 'express-observed': {
      // As prom-client's and pino's READMEs start: default metrics on the global registry (served
      // at /metrics), and a line per request on stdout when the response finishes.
      client.collectDefaultMetrics();
      const logger = pino();
      const app = expressApp((app) => {
        app.use((req, res, next) => {
          const started = performance.now();
          res.once('finish', () => {
            const ms = Math.round((performance.now() - started) * 10) / 10;
            logger.info({ method: req.method, url: req.url, status: res.statusCode, duration_ms: ms }, 'request');
          });
          next();
        });
        app.get('/metrics', async (_req, res) => {
          res.type(client.register.contentType).send(await client.register.metrics());
        });
      });
      return http.createServer(app);
    }
    case 'yoga': {
      // recipe-api's own schema, with the one resolver the benchmark's query reaches.
      const schema = createSchema({ typeDefs, resolvers: { Query: { recipe: () => answer.graphqlData.recipe } } });
      const yoga = createYoga({ schema, logging: false });
      return http.createServer(yoga);
    }
    default:
      throw new Error(`unknown floor ${kind}: node-http, express, express-observed or yoga`);
  }
}

const server = build();
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  console.log(`listening ${(server.address() as AddressInfo).port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
