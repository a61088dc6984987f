import * as grpc from '@grpc/grpc-js';
import type { TestContext } from 'node:test';

/** A grpc-js server on a free loopback port, set up by `register`, shut down after the test. */
export async function startGrpcServer(t: TestContext, register: (server: grpc.Server) => void): Promise<string> {
  const server = new grpc.Server();
  register(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  t.after(() => server.forceShutdown());
  return `127.0.0.1:${port}`;
}
