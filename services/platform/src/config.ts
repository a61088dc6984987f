import { z } from 'zod';

/**
 * One schema-validated config per service. Only this module reads `process.env`
 * (services pass it in from main.ts); every key has a default and a doc line via
 * `.describe()`, which `configTable()` turns into README's configuration table.
 */
export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export type EnvSchema = z.ZodObject<z.ZodRawShape>;

export function loadConfig<S extends EnvSchema>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<S> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    // An empty variable means "use the default", as in most twelve-factor tools.
    if (value !== undefined && value !== '') input[key] = value;
  }
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? '(config)'),
        message: issue.message,
      })),
    );
  }
  return result.data;
}

/** Builders for env values, which always arrive as strings. */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  int: (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback),
  number: (fallback: number, min = 0) => z.coerce.number().min(min).default(fallback),
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
      .default(fallback ? 'true' : 'false')
      .transform((v) => ['true', '1', 'yes', 'on'].includes(v)),
  string: (fallback: string) => z.string().min(1).default(fallback),
  optionalString: () => z.string().min(1).optional(),
  url: (fallback: string) => z.string().url().default(fallback),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

/** Markdown rows `| VAR | default | description |` for README. */
export function configTable(schema: EnvSchema): string {
  const rows = Object.entries(schema.shape).map(([key, field]) => {
    const def = defaultOf(field as z.ZodTypeAny);
    return `| \`${key}\` | ${def === undefined ? '—' : `\`${def}\``} | ${(field as z.ZodTypeAny).description ?? ''} |`;
  });
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

function defaultOf(field: z.ZodTypeAny): unknown {
  const parsed = field.safeParse(undefined);
  return parsed.success ? (parsed.data as unknown) : undefined;
}

/** Settings shared by both services: listeners, admin, logging, shutdown. */
export const commonConfigShape = {
  HOST: env.string('0.0.0.0').describe('Interface the traffic and admin listeners bind to.'),
  LOG_LEVEL: env.logLevel().describe('pino log level.'),
  ADMIN_TOKEN: env
    .optionalString()
    .describe('When set, admin endpoints other than probes and /metrics need `Authorization: Bearer <token>`.'),
  SHUTDOWN_GRACEFUL: env
    .bool(true)
    .describe('Graceful shutdown on SIGTERM; `false` exits at once (the rollout experiment).'),
  SHUTDOWN_DRAIN_DELAY_MS: env
    .int(5000)
    .describe(
      'After SIGTERM, time readiness stays failed while listeners still accept (longer than a readiness period).',
    ),
  SHUTDOWN_TIMEOUT_MS: env
    .int(10000)
    .describe('Upper bound for in-flight requests to finish after listeners stop accepting.'),
  KEEP_ALIVE_TIMEOUT_MS: env
    .int(5000)
    .describe(
      "HTTP server keepAliveTimeout. Node 18–24 default is 5000; it must exceed the proxy's idle timeout (503 UC experiment).",
    ),
  HEADERS_TIMEOUT_MS: env.int(60000).describe('HTTP server headersTimeout.'),
  JSON_BODY_LIMIT_BYTES: env.int(65536, 1024).describe('Largest JSON request body (413 above it).'),
  FAULTS: env.optionalString().describe('JSON fault document applied at startup (same shape as `PUT /faults`).'),
};
