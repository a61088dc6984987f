import http from 'node:http';
import type { Socket } from 'node:net';
import { once } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { buildSchema, graphql, GraphQLError } from 'graphql';
import {
  encodeErrorMetadata,
  type ErrorCode,
  errorMetadataKey,
  grpcStatusOf,
} from '@recipe-mesh/platform/error-contract';
import { type Recipe, recipeServiceDefinition, type RecipeServiceHandlers } from '@recipe-mesh/platform/proto/recipes';

/**
 * Small stand-ins for recipe-api, speaking the shapes of proto/recipes/v1/recipes.proto over REST,
 * GraphQL and gRPC, so web-api's tests do not wait on the real producer. Each one counts what it
 * receives and can be told to be slow or to fail, which is what web-api's behaviour is tested
 * against.
 */
export interface Behaviour {
  /** Added before answering (timeouts). */
  delayMs: number;
  /** The next N calls fail with 503 / UNAVAILABLE (retries). */
  failNext: number;
}

const chickenTikkaMasala = {
  id: 42,
  name: 'Chicken Tikka Masala',
  cuisine: 'indian',
  steps: ['Marinate the chicken', 'Grill it', 'Simmer in the sauce'],
  ingredients: [
    { name: 'chicken thigh', quantity: 500, unit: 'g' },
    { name: 'yoghurt', quantity: 150, unit: 'g' },
  ],
  ownerId: 'u-book',
  updatedAt: '2024-01-01T00:00:00.000Z',
  servings: 4,
};

/** Ids 1..100 exist; 42 is the book's recipe. */
export function standInRecipe(id: number) {
  if (id === 42) return chickenTikkaMasala;
  if (id < 1 || id > 100) return undefined;
  return { ...chickenTikkaMasala, id, name: `Recipe ${id}`, cuisine: 'test' };
}

export const standInUserView = { favourite: true, preferredServings: 2 };

/** The shape of recipe-api's schema (services/recipe-api/src/entry-points/graphql/schema.ts). */
const graphqlSchema = buildSchema(`
  type Ingredient { name: String! quantity: Float! unit: String! }
  type UserView { favourite: Boolean! preferredServings: Int }
  type Recipe { id: Int! name: String! cuisine: String! steps: [String!]! ingredients: [Ingredient!]! ownerId: String! updatedAt: String! servings: Int! userView: UserView }
  input IngredientInput { name: String! quantity: Float! unit: String }
  input CreateRecipeInput { name: String! cuisine: String! steps: [String!]! ingredients: [IngredientInput!]! ownerId: String! servings: Int idempotencyKey: String }
  type CreateRecipePayload { recipe: Recipe! replayed: Boolean! }
  type Query { recipe(id: Int!): Recipe }
  type Mutation { createRecipe(input: CreateRecipeInput!): CreateRecipePayload! }
`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Idempotency-Key → the recipe it created, shared by the three protocols as in recipe-api. */
class CreatedRecipes {
  private nextId = 10_001;
  private readonly byKey = new Map<string, ReturnType<typeof standInRecipe> & object>();
  create(input: Record<string, unknown>, key: string | undefined) {
    const seen = key ? this.byKey.get(key) : undefined;
    if (seen) return { recipe: seen, replayed: true };
    const recipe = { ...chickenTikkaMasala, ...input, id: this.nextId++ } as typeof chickenTikkaMasala;
    if (key) this.byKey.set(key, recipe);
    return { recipe, replayed: false };
  }
}

export interface RequestRecord {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
}

export class HttpProducerStandIn {
  readonly behaviour: Behaviour = { delayMs: 0, failNext: 0 };
  readonly requests: RequestRecord[] = [];
  /** Sockets that served `GET /recipes/export`, until they close. */
  readonly exportSockets = new Set<Socket>();
  /** Bytes the export handed to its socket: stops growing while nobody reads (backpressure). */
  exportBytes = 0;
  inFlight = 0;
  maxInFlight = 0;
  private readonly created = new CreatedRecipes();
  readonly server = http.createServer((req, res) => void this.handle(req, res));
  port = 0;

  async start(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }
  get url() {
    return `http://127.0.0.1:${this.port}`;
  }
  count(method: string, path: string): number {
    return this.requests.filter((r) => r.method === method && r.path === path).length;
  }
  /** Open TCP connections from web-api (net.Server#getConnections). */
  connections(): Promise<number> {
    return new Promise((resolve, reject) => this.server.getConnections((e, n) => (e ? reject(e) : resolve(n))));
  }
  reset() {
    this.behaviour.delayMs = 0;
    this.behaviour.failNext = 0;
    this.requests.length = 0;
    this.maxInFlight = 0;
  }
  async stop() {
    this.server.closeAllConnections();
    for (const socket of this.exportSockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private send(res: http.ServerResponse, status: number, body: unknown) {
    if (!res.destroyed) res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  private async readJson(req: http.IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    return text ? (JSON.parse(text) as unknown) : undefined;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const path = (req.url ?? '/').split('?')[0]!;
    this.requests.push({ method: req.method ?? '', path, headers: req.headers });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const body = req.method === 'GET' ? undefined : await this.readJson(req);
      if (this.behaviour.delayMs > 0) await sleep(this.behaviour.delayMs);
      // web-api gave up on it (a timeout): it must not use up a failure meant for a later test.
      if (res.destroyed) return;
      if (this.behaviour.failNext > 0) {
        this.behaviour.failNext--;
        return this.send(res, 503, { error: { code: 'UNAVAILABLE', message: 'stand-in told to fail' } });
      }
      await this.route(req, res, path, body);
    } finally {
      this.inFlight--;
    }
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse, path: string, body: unknown) {
    const userId = req.headers['x-user-id'];
    const recipeMatch = /^\/recipes\/(\d+)$/.exec(path);
    if (req.method === 'GET' && path === '/recipes/export') return this.streamExport(req, res);
    if (req.method === 'GET' && recipeMatch) {
      const recipe = standInRecipe(Number(recipeMatch[1]));
      if (!recipe)
        return this.send(res, 404, { error: { code: 'NOT_FOUND', message: `recipe ${recipeMatch[1]} not found` } });
      return this.send(res, 200, { producer_pid: process.pid, recipe, userView: userId ? standInUserView : null });
    }
    if (req.method === 'POST' && path === '/recipes') {
      const input = body as Record<string, unknown> | undefined;
      if (typeof input?.name !== 'string' || input.name === '') {
        return this.send(res, 400, {
          error: {
            code: 'VALIDATION_FAILED',
            message: 'invalid recipe',
            details: [{ path: 'name', message: 'Required' }],
          },
        });
      }
      const key = req.headers['idempotency-key'];
      const { recipe, replayed } = this.created.create(input, typeof key === 'string' ? key : undefined);
      // As recipe-api: 201, or 200 with the same body when the key was seen before.
      return this.send(res, replayed ? 200 : 201, { producer_pid: process.pid, recipe });
    }
    const prefsMatch = /^\/users\/([^/]+)\/preferences$/.exec(path);
    if (req.method === 'PUT' && prefsMatch) {
      return this.send(res, 200, {
        producer_pid: process.pid,
        userId: decodeURIComponent(prefsMatch[1]!),
        preferences: body,
      });
    }
    if (req.method === 'POST' && path === '/graphql') return this.graphql(req, res, body);
    this.send(res, 404, { error: { code: 'NOT_FOUND', message: `no route ${req.method} ${path}` } });
  }

  private async graphql(req: http.IncomingMessage, res: http.ServerResponse, body: unknown) {
    const { query, variables, operationName } = body as {
      query: string;
      variables?: Record<string, unknown>;
      operationName?: string;
    };
    const userId = req.headers['x-user-id'];
    const result = await graphql({
      schema: graphqlSchema,
      source: query,
      variableValues: variables ?? null,
      operationName: operationName ?? null,
      rootValue: {
        recipe: ({ id }: { id: number }) => {
          const recipe = standInRecipe(id);
          if (!recipe) throw new GraphQLError(`recipe ${id} not found`, { extensions: { code: 'NOT_FOUND' } });
          return { ...recipe, userView: userId ? standInUserView : null };
        },
        createRecipe: ({ input }: { input: Record<string, unknown> & { idempotencyKey?: string | null } }) => {
          const { idempotencyKey, ...fields } = input;
          return this.created.create(fields, idempotencyKey ?? undefined);
        },
      },
    });
    // As recipe-api's error masking: an error without a code (a variable of the wrong shape) is
    // BAD_REQUEST; its pid goes into every result's extensions.
    const errors = result.errors?.map((e) => ({ ...e.toJSON(), extensions: { code: 'BAD_REQUEST', ...e.extensions } }));
    this.send(res, 200, { ...result, ...(errors ? { errors } : {}), extensions: { producer_pid: process.pid } });
  }

  /** An endless NDJSON export that honours backpressure, like recipe-api's `GET /recipes/export`. */
  private async streamExport(req: http.IncomingMessage, res: http.ServerResponse) {
    const socket = req.socket;
    this.exportSockets.add(socket);
    socket.once('close', () => this.exportSockets.delete(socket));
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
    for (let id = 1; !res.destroyed; id++) {
      const line = `${JSON.stringify({ ...chickenTikkaMasala, id, name: `Recipe ${id}` })}\n`;
      this.exportBytes += line.length;
      if (!res.write(line)) {
        let onDrain = () => {};
        await Promise.race([new Promise<void>((resolve) => res.once('drain', (onDrain = resolve))), closed]);
        res.off('drain', onDrain);
      }
    }
  }
}

/** A coded error as recipe-api's gRPC side answers it (entry-points/grpc/status.ts): the table's status, the error in metadata. */
function codedStatus(code: ErrorCode, message: string, details?: unknown): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  metadata.set(errorMetadataKey, encodeErrorMetadata({ code, message, ...(details === undefined ? {} : { details }) }));
  return { code: grpcStatusOf[code], details: message, metadata };
}

/** proto3 JSON carries an int64 as a decimal string. */
const asProtoRecipe = (recipe: { id: number }): Recipe => ({ ...recipe, id: String(recipe.id) });

export class GrpcProducerStandIn {
  readonly behaviour: Behaviour = { delayMs: 0, failNext: 0 };
  readonly calls: { method: string; userId: string | undefined }[] = [];
  readonly server = new grpc.Server();
  private readonly created = new CreatedRecipes();
  port = 0;

  async start(): Promise<this> {
    const handlers: RecipeServiceHandlers = {
      GetRecipe: (call, callback) => {
        void this.prepare('GetRecipe', call).then((failure) => {
          if (failure) return callback(failure);
          const recipe = standInRecipe(Number(call.request.id));
          if (!recipe) return callback(codedStatus('NOT_FOUND', `recipe ${call.request.id} not found`));
          const userId = call.metadata.get('x-user-id')[0];
          callback(null, {
            recipe: asProtoRecipe(recipe),
            producerPid: process.pid,
            userView: userId ? standInUserView : undefined,
          });
        });
      },
      CreateRecipe: (call, callback) => {
        void this.prepare('CreateRecipe', call).then((failure) => {
          if (failure) return callback(failure);
          if (!call.request.name)
            return callback(
              codedStatus('VALIDATION_FAILED', 'invalid recipe', [{ path: 'name', message: 'Required' }]),
            );
          const { idempotencyKey, ...input } = call.request;
          const { recipe, replayed } = this.created.create(input, idempotencyKey || undefined);
          callback(null, { recipe: asProtoRecipe(recipe), replayed, producerPid: process.pid });
        });
      },
      ListRecipes: (call) => call.end(),
    };
    this.server.addService(recipeServiceDefinition, handlers);
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, port) =>
        e ? reject(e) : resolve(port),
      ),
    );
    return this;
  }
  get target() {
    return `127.0.0.1:${this.port}`;
  }
  count(method: string): number {
    return this.calls.filter((c) => c.method === method).length;
  }
  reset() {
    this.behaviour.delayMs = 0;
    this.behaviour.failNext = 0;
    this.calls.length = 0;
  }
  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.server.tryShutdown(() => resolve());
      setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 1000).unref();
    });
  }

  private async prepare(
    method: string,
    call: { metadata: grpc.Metadata; cancelled: boolean },
  ): Promise<grpc.ServiceError | undefined> {
    const userId = call.metadata.get('x-user-id')[0];
    this.calls.push({ method, userId: typeof userId === 'string' ? userId : undefined });
    if (this.behaviour.delayMs > 0) await sleep(this.behaviour.delayMs);
    // Past its deadline: must not use up a failure meant for a later test.
    if (call.cancelled)
      return {
        code: grpc.status.CANCELLED,
        details: 'cancelled',
        metadata: new grpc.Metadata(),
        name: 'Error',
        message: 'cancelled',
      };
    if (this.behaviour.failNext > 0) {
      this.behaviour.failNext--;
      return Object.assign(new Error('stand-in told to fail'), {
        code: grpc.status.UNAVAILABLE,
        details: 'stand-in told to fail',
        metadata: new grpc.Metadata(),
      });
    }
    return undefined;
  }
}
