// The floors of `make bench`: the least a Node server, an express app and a graphql-yoga server
// can cost for the same answer recipe-api gives, so each service's req/s reads as a ratio to what
// its framework allows on this machine. Started as a child process (never inside the load
// generator's event loop): `floor-server.ts <node-http|express|yoga> <answer.json>`; prints
// `listening <port>` once bound to 127.0.0.1 on a free port.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createSchema, createYoga } from 'graphql-yoga';
import { typeDefs } from '@recipe-mesh/recipe-api/entry-points/graphql/schema';

const [kind, answerFile] = process.argv.slice(2);
// { rest: <GET /recipes/42 body>, graphqlData: <data of the GetRecipe query> }
const answer = JSON.parse(readFileSync(answerFile!, 'utf8')) as { rest: unknown; graphqlData: { recipe: unknown } };
const restBody = JSON.stringify(answer.rest);

function build(): http.Server {
  switch (kind) {
    case 'node-http':
      return http.createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(restBody) });
        res.end(restBody);
      });
    case 'express': {
      const app = express();
      app.set('etag', false);
      app.set('x-powered-by', false);
      app.get('/recipes/:id', (_req, res) => {
        res.json(answer.rest);
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
      throw new Error(`unknown floor ${kind}: node-http, express or yoga`);
  }
}

const server = build();
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  console.log(`listening ${(server.address() as AddressInfo).port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
