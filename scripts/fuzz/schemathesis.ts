import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema, printSchema } from 'graphql';
import { typeDefs } from '../../services/recipe-api/src/entry-points/graphql/schema.js';

/**
 * Runs schemathesis (PyPI) against the services' published contracts: OpenAPI from
 * `GET /openapi.json`, GraphQL from the SDL. The checks are the ones docs/reliability.md lists;
 * a deterministic seed and a bounded example count keep `make test` repeatable.
 */

const hooksDir = path.dirname(fileURLToPath(import.meta.url));

/** Response checks for REST; the stateful ones follow the POST → GET links of each document. */
export const restChecks = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_headers_conformance',
  'response_schema_conformance',
  'use_after_free',
  'ensure_resource_availability',
];
/** GraphQL: hooks.py's coded-error check stands in for not_a_server_error (see there why). */
export const graphqlChecks = ['graphql_errors_are_coded', 'response_schema_conformance'];

export interface FuzzBudget {
  /** Examples per operation and phase. */
  maxExamples: number;
  seed: number;
}

export const testBudget: FuzzBudget = { maxExamples: 15, seed: 20261202 };
export const longBudget: FuzzBudget = { maxExamples: 300, seed: 20261202 };

export interface FuzzRun {
  name: string;
  code: number;
  output: string;
  /** schemathesis' counts and closing line, e.g. "519 generated, 519 passed; No issues found in 24.48s". */
  summary: string;
}

export interface FuzzTarget {
  name: string;
  /** URL of an OpenAPI document, or a local schema file. */
  location: string;
  /** Base URL when `location` is a file. */
  url?: string;
  checks: string[];
  hooks?: boolean;
}

/** The GraphQL SDL of recipe-api, printed from the schema it serves (introspection trips graphql-core 3.2.8). */
export function graphqlSdlFile(): { file: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-fuzz-'));
  const file = path.join(dir, 'recipe-api.graphql');
  writeFileSync(file, printSchema(buildSchema(typeDefs)));
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function runSchemathesis(binary: string, target: FuzzTarget, budget: FuzzBudget): Promise<FuzzRun> {
  const args = [
    'run',
    target.location,
    ...(target.url ? ['--url', target.url] : []),
    '--checks',
    target.checks.join(','),
    '--max-examples',
    String(budget.maxExamples),
    '--seed',
    String(budget.seed),
    // No example database: a run must not depend on what an earlier run found.
    '--generation-database',
    'none',
    '--workers',
    '1',
    '--request-timeout',
    '10',
    '--no-color',
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, {
      // schemathesis keeps a crash cache in its working directory: not in the repository.
      cwd: tmpdir(),
      env: {
        ...process.env,
        ...(target.hooks ? { SCHEMATHESIS_HOOKS: 'hooks', PYTHONPATH: hooksDir } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const cases = /^\s*(\d+ generated, .+)$/m.exec(output)?.[1]?.trim() ?? 'no test cases';
      const closing = /=+ (.+ in [\d.]+s) =+\s*$/m.exec(output)?.[1] ?? '';
      const summary = `${cases}; ${closing}`;
      resolve({ name: target.name, code: code ?? (signal ? 128 : 1), output, summary });
    });
  });
}
