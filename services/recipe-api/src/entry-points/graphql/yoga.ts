import { createYoga, type Plugin } from 'graphql-yoga';
import { getOperationAST, GraphQLError, type ExecutionResult } from 'graphql';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import type { Logger } from 'pino';
import { AppError, type ErrorCode } from '@recipe-mesh/platform/errors';
import { graphqlCodeOf } from '@recipe-mesh/platform/error-contract';
import { startDurationTimer, type Metrics } from '@recipe-mesh/platform/metrics';
import type { RecipeCatalogue } from '../../domain/recipe-catalogue.js';
import { producerPid } from '../request-input.js';
import { recipeSchema, type ServerContext } from './schema.js';

export interface GraphqlOptions {
  catalogue: RecipeCatalogue;
  metrics: Pick<Metrics, 'graphqlOperationDuration'>;
  logger: Logger;
  maxDepth: number;
  maxCost: number;
}

/** A copy of a GraphQL error with `extensions.code` set, keeping its locations and path. */
function withCode(error: GraphQLError, code: ErrorCode, extra: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    extensions: { ...error.extensions, code: graphqlCodeOf(code), ...extra },
  });
}

/**
 * Times every operation into graphql_operation_duration_seconds (from parsed params to the result,
 * including parse/validation failures) and adds `producer_pid` to every result's extensions.
 */
function operationMetricsPlugin(metrics: GraphqlOptions['metrics']): Plugin {
  const operations = new WeakMap<
    Request,
    { stop: ReturnType<typeof startDurationTimer>; name: string; type: string }
  >();
  return {
    onParams({ request, params }) {
      const stop = startDurationTimer(metrics.graphqlOperationDuration);
      operations.set(request, { stop, name: params.operationName || 'anonymous', type: 'unknown' });
    },
    onExecute({ args }) {
      const request = (args.contextValue as { request?: Request }).request;
      const operation = request && operations.get(request);
      const ast = getOperationAST(args.document, args.operationName);
      if (operation && ast) {
        operation.type = ast.operation;
        operation.name = ast.name?.value ?? operation.name;
      }
    },
    onResultProcess({ request, result, setResult }) {
      if (Array.isArray(result) || Symbol.asyncIterator in result) return;
      const single = result as ExecutionResult;
      const operation = operations.get(request);
      if (operation) {
        operations.delete(request);
        operation.stop({
          operation_name: operation.name,
          operation_type: operation.type,
          outcome: single.errors?.length ? 'error' : 'success',
        });
      }
      setResult({ ...single, extensions: { ...single.extensions, producer_pid: producerPid } });
    },
  };
}

/** Validation errors (unknown field, wrong type) carry a code like every other error. */
function validationCodesPlugin(): Plugin {
  return {
    onValidate() {
      return ({ result, setResult }) => {
        if (result.length === 0) return;
        setResult(result.map((e) => (e.extensions.code ? e : withCode(e, 'GRAPHQL_VALIDATION_FAILED'))));
      };
    },
  };
}

/**
 * graphql-yoga on the REST port. Depth and cost limits reject abusive queries before execution;
 * every error has `extensions.code` from the shared table (platform/error-contract.ts), and unexpected errors are
 * masked (logged here, never sent).
 */
export function createGraphqlHandler(options: GraphqlOptions) {
  const { logger } = options;
  const reject = (code: ErrorCode) => [
    (ctx: { reportError(error: GraphQLError): void } | null, error: GraphQLError) =>
      ctx?.reportError(withCode(error, code)),
  ];
  return createYoga<ServerContext>({
    schema: recipeSchema(options.catalogue),
    graphqlEndpoint: '/graphql',
    // No GraphiQL: it loads its assets from a CDN, and this port is an API.
    graphiql: false,
    landingPage: false,
    logging: {
      debug: (...args) => logger.debug({ args }, 'graphql'),
      info: (...args) => logger.info({ args }, 'graphql'),
      warn: (...args) => logger.warn({ args }, 'graphql'),
      error: (...args) => logger.error({ args }, 'graphql'),
    },
    maskedErrors: {
      maskError(error, message) {
        const original = error instanceof GraphQLError ? error.originalError : error;
        if (original instanceof AppError) {
          const base = error instanceof GraphQLError ? error : new GraphQLError(original.message);
          return new GraphQLError(original.message, {
            nodes: base.nodes,
            source: base.source,
            positions: base.positions,
            path: base.path,
            extensions: {
              code: graphqlCodeOf(original.code),
              ...(original.details === undefined ? {} : { details: original.details }),
            },
          });
        }
        // graphql-js reports variables that do not coerce as a GraphQLError wrapping another
        // GraphQLError: still the caller's fault, so it keeps a client code instead of INTERNAL.
        if (error instanceof GraphQLError && (!error.originalError || error.originalError instanceof GraphQLError)) {
          return error.extensions.code ? error : withCode(error, 'BAD_REQUEST');
        }
        logger.error({ err: original }, 'graphql resolver failed');
        return new GraphQLError(message, {
          path: error instanceof GraphQLError ? error.path : undefined,
          extensions: { code: graphqlCodeOf('INTERNAL') },
        });
      },
    },
    plugins: [
      maxDepthPlugin({ n: options.maxDepth, propagateOnRejection: false, onReject: reject('QUERY_TOO_DEEP') }),
      costLimitPlugin({ maxCost: options.maxCost, propagateOnRejection: false, onReject: reject('QUERY_TOO_COMPLEX') }),
      validationCodesPlugin(),
      operationMetricsPlugin(options.metrics),
    ],
  });
}
