import http from 'node:http';
import { once } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import {
  type CodedError,
  encodeErrorMetadata,
  errorMetadataKey,
  grpcStatusOf,
  httpStatusOf,
} from '@recipe-mesh/platform/error-contract';
import { recipeServiceDefinition } from '@recipe-mesh/platform/proto/recipes';

/**
 * A fake recipe-api for the answers the real one cannot be made to give through web-api: answers
 * it cannot parse, and codes the real one only answers to requests web-api never builds (a
 * VALIDATION_FAILED for an id web-api already checked, a 415 for the JSON web-api always sends).
 * Every request, on every protocol, gets the scripted answer; coded ones are encoded as recipe-api
 * encodes them (REST body, GraphQL `extensions`, gRPC status and error metadata; see
 * platform/error-contract.ts).
 */
export type Script = { kind: 'unparseable' } | ({ kind: 'coded' } & CodedError);

/** Bytes no protobuf message decodes from (a truncated varint): grpc-js reports INTERNAL. */
const undecodable = Buffer.from([0xff, 0xff, 0xff, 0xff]);

export class ScriptedProducer {
  script: Script = { kind: 'unparseable' };
  readonly http = http.createServer((req, res) => {
    req.resume();
    req.once('end', () => this.answerHttp(req.url ?? '/', res));
  });
  readonly grpc = new grpc.Server();
  httpPort = 0;
  grpcPort = 0;

  async start(): Promise<this> {
    this.http.listen(0, '127.0.0.1');
    await once(this.http, 'listening');
    this.httpPort = (this.http.address() as { port: number }).port;
    const service = recipeServiceDefinition;
    // The real definition with a serializer that writes garbage when the script says so.
    const definition = Object.fromEntries(
      Object.entries(service).map(([name, method]) => [
        name,
        {
          ...method,
          responseSerialize: (value: unknown) =>
            this.script.kind === 'unparseable' ? undecodable : method.responseSerialize(value as never),
        },
      ]),
    ) as grpc.ServiceDefinition;
    const answer = (callback: grpc.sendUnaryData<unknown>) => {
      const script = this.script;
      if (script.kind === 'unparseable') return callback(null, {});
      const metadata = new grpc.Metadata();
      metadata.set(errorMetadataKey, encodeErrorMetadata(script));
      callback({ code: grpcStatusOf[script.code], details: script.message, metadata });
    };
    this.grpc.addService(definition, {
      GetRecipe: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => answer(callback),
      CreateRecipe: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => answer(callback),
      ListRecipes: (call: grpc.ServerWritableStream<unknown, unknown>) => call.end(),
    });
    this.grpcPort = await new Promise<number>((resolve, reject) =>
      this.grpc.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, port) =>
        e ? reject(e) : resolve(port),
      ),
    );
    return this;
  }

  get url() {
    return `http://127.0.0.1:${this.httpPort}`;
  }
  get grpcTarget() {
    return `127.0.0.1:${this.grpcPort}`;
  }

  async stop(): Promise<void> {
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.grpc.forceShutdown();
  }

  private answerHttp(url: string, res: http.ServerResponse) {
    const script = this.script;
    const json = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (script.kind === 'unparseable') {
      // The export is streamed through unread, so only a failed start can be unreadable there.
      const status = url.startsWith('/recipes/export') ? 500 : 200;
      res.writeHead(status, { 'content-type': 'application/json' }).end('{"producer_pid": 1, "reci');
      return;
    }
    const { code, message, details } = script;
    const error = { code, message, ...(details === undefined ? {} : { details }) };
    if (url.startsWith('/graphql'))
      return json(200, { data: null, errors: [{ message, extensions: { code, details } }] });
    json(httpStatusOf[code], { error });
  }
}
