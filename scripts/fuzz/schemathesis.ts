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

/**
 * REST: every check schemathesis has (`all`): server errors, status code, content type, response
 * header and schema conformance, schema-valid input accepted and schema-invalid input rejected,
 * missing required headers, 405 for undocumented methods, and the stateful ones over the
 * documents' POST → GET links. A gap is fixed in the service or its document, never here.
 */
export const restChecks: FuzzChecks = { checks: ['all'] };
/**
 * GraphQL: all but two. hooks.py's coded-error check stands in for `not_a_server_error` (see there
 * why). `positive_data_acceptance` needs the schema to state every rule, and GraphQL's SDL cannot
 * state ranges (`first` 1-100, positive ids) or the query-cost limit: such queries get coded
 * VALIDATION_FAILED / QUERY_TOO_COMPLEX errors, which the coded-error check holds to the contract.
 */
export const graphqlChecks: FuzzChecks = {
  checks: ['all'],
  exclude: ['not_a_server_error', 'positive_data_acceptance'],
};

export interface FuzzChecks {
  checks: string[];
  exclude?: string[];
}

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
  checks: FuzzChecks;
  /** Reached through the lab's Envoy ingress (hooks.py leaves out what Envoy answers itself). */
  throughEnvoy?: boolean;
  /** Settings per operation, by operationId. */
  operations?: Record<string, OperationSettings>;
}

export interface OperationSettings {
  /** Left out of the run. */
  disabled?: boolean;
  /** Query parameters sent as given, never generated. */
  pinnedQuery?: Record<string, string>;
  /** Statuses positive_data_acceptance takes as "accepted" instead of its default list. */
  acceptedStatuses?: string[];
}

/** Every phase, the stateful one (sequences over the documents' links) included. */
export const phases = ['examples', 'coverage', 'fuzzing', 'stateful'];

/**
 * schemathesis.toml for a target's per-operation settings ("Operation-Specific Configuration",
 * "Parameter Overrides" and check settings in schemathesis' configuration reference): an
 * overridden parameter is sent as given and never generated, in every phase.
 */
export function schemathesisConfig(operations: Record<string, OperationSettings>): string {
  const toml = (value: unknown) => JSON.stringify(value);
  return Object.entries(operations)
    .map(([id, settings]) => {
      const lines = ['[[operations]]', `include-operation-id = ${toml(id)}`];
      if (settings.disabled) lines.push('enabled = false');
      if (settings.pinnedQuery) {
        const pairs = Object.entries(settings.pinnedQuery).map(
          ([name, value]) => `${toml(`query.${name}`)} = ${toml(value)}`,
        );
        lines.push(`parameters = { ${pairs.join(', ')} }`);
      }
      if (settings.acceptedStatuses)
        lines.push(`checks.positive_data_acceptance.expected-statuses = ${toml(settings.acceptedStatuses)}`);
      return `${lines.join('\n')}\n`;
    })
    .join('\n');
}

/** The GraphQL SDL of recipe-api, printed from the schema it serves (introspection trips graphql-core 3.2.8). */
export function graphqlSdlFile(): { file: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-fuzz-'));
  const file = path.join(dir, 'recipe-api.graphql');
  writeFileSync(file, printSchema(buildSchema(typeDefs)));
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function runSchemathesis(binary: string, target: FuzzTarget, budget: FuzzBudget): Promise<FuzzRun> {
  const configDir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-fuzz-config-'));
  const configFile = path.join(configDir, 'schemathesis.toml');
  writeFileSync(configFile, target.operations ? schemathesisConfig(target.operations) : '');
  const args = [
    '--config-file',
    configFile,
    'run',
    target.location,
    ...(target.url ? ['--url', target.url] : []),
    '--checks',
    target.checks.checks.join(','),
    ...(target.checks.exclude ? ['--exclude-checks', target.checks.exclude.join(',')] : []),
    '--phases',
    phases.join(','),
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
      // hooks.py: the GraphQL coded-error check, per-request Idempotency-Keys, Envoy's own answers.
      env: {
        ...process.env,
        SCHEMATHESIS_HOOKS: 'hooks',
        PYTHONPATH: hooksDir,
        FUZZ_THROUGH_ENVOY: target.throughEnvoy ? '1' : '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.once('error', (error) => {
      rmSync(configDir, { recursive: true, force: true });
      reject(error);
    });
    child.once('exit', (code, signal) => {
      rmSync(configDir, { recursive: true, force: true });
      const cases = /^\s*(\d+ generated, .+)$/m.exec(output)?.[1]?.trim() ?? 'no test cases';
      const closing = /=+ (.+ in [\d.]+s) =+\s*$/m.exec(output)?.[1] ?? '';
      const summary = `${cases}; ${closing}`;
      resolve({ name: target.name, code: code ?? (signal ? 128 : 1), output, summary });
    });
  });
}
