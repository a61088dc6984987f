/**
 * Every metric family both services export, with what each label means and who observes it: the
 * one source for `createMetrics` (names, help, label names) and for the Metrics tables of
 * docs/contracts.md and README.md, which `make docs` writes from here (scripts/gen-docs.ts) and
 * `make test` checks for drift. Dashboards, rules and the live tests read the same list.
 */
export type MetricType = 'counter' | 'gauge' | 'histogram';
export type MetricOwner = 'both' | 'web-api' | 'recipe-api';

export interface MetricDefinition {
  /** The exposed name; counters carry `_total`, which OpenMetrics renders on the samples. */
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  /** Label names (besides the default `service`) with what their values are; '' when obvious. */
  readonly labels: Readonly<Record<string, string>>;
  /** For a family without labels: what its value means, shown in the labels column. */
  readonly valueNote?: string;
  readonly who: MetricOwner;
}

export const metricCatalogue = {
  httpServerDuration: {
    name: 'http_server_request_duration_seconds',
    type: 'histogram',
    help: 'HTTP server request duration by method, route template and status code.',
    labels: { method: '', route: 'template, e.g. `/recipes/:id`; `unmatched` for 404s', status_code: '' },
    who: 'both',
  },
  grpcServerDuration: {
    name: 'grpc_server_handling_seconds',
    type: 'histogram',
    help: 'gRPC server call duration by method and status code.',
    labels: { grpc_method: 'e.g. `GetRecipe`', grpc_code: 'e.g. `OK`, `NOT_FOUND`' },
    who: 'recipe-api',
  },
  grpcClientDuration: {
    name: 'grpc_client_handling_seconds',
    type: 'histogram',
    help: 'gRPC client call duration by method and status code.',
    labels: { grpc_method: '', grpc_code: '' },
    who: 'web-api',
  },
  graphqlOperationDuration: {
    name: 'graphql_operation_duration_seconds',
    type: 'histogram',
    help: 'GraphQL operation duration by operation name, type and outcome.',
    labels: { operation_name: '`anonymous` when none', operation_type: '', outcome: '`success`/`error`' },
    who: 'recipe-api',
  },
  upstreamDuration: {
    name: 'upstream_request_duration_seconds',
    type: 'histogram',
    help: 'Calls from web-api to recipe-api by protocol, operation and outcome.',
    labels: {
      via: '`http`/`graphql`/`grpc`',
      operation: '`getRecipe`, `listRecipes`, `createRecipe`, `setPreferences`, `export`',
      outcome: '`success`, `client_error`, `server_error`, `timeout`, `unavailable`',
    },
    who: 'web-api',
  },
  redisCommandDuration: {
    name: 'redis_command_duration_seconds',
    type: 'histogram',
    help: 'Redis command duration by command and outcome.',
    labels: { command: 'lower-case, e.g. `get`', outcome: '`success`/`error`' },
    who: 'recipe-api',
  },
  redisConnectionUp: {
    name: 'redis_connection_up',
    type: 'gauge',
    help: '1 when the Redis client is connected and ready, else 0.',
    labels: {},
    valueNote: '1 when ioredis is `ready`, else 0',
    who: 'recipe-api',
  },
  cacheLookups: {
    name: 'cache_lookups_total',
    type: 'counter',
    help: 'Cache lookups by result (hit, miss, error).',
    labels: { result: '`hit`/`miss`/`error`' },
    who: 'recipe-api',
  },
  cacheInvalidationDuration: {
    name: 'cache_invalidation_duration_seconds',
    type: 'histogram',
    help: "Time to invalidate one user's cached views, by strategy (index, scan).",
    labels: { strategy: '`index`/`scan`' },
    who: 'recipe-api',
  },
  degradedResponses: {
    name: 'degraded_responses_total',
    type: 'counter',
    help: 'Responses served without a dependency (e.g. from the store with Redis down), by reason.',
    labels: { reason: 'e.g. `redis_unavailable`' },
    who: 'recipe-api',
  },
  recipesCreated: {
    name: 'recipes_created_total',
    type: 'counter',
    help: 'Recipes the store created (an idempotent replay creates none).',
    labels: {},
    valueNote: 'one per store write; the post-retry-duplicates experiment compares it with the requests sent',
    who: 'recipe-api',
  },
  faultActive: {
    name: 'fault_active',
    type: 'gauge',
    help: 'Injected fault kinds currently active (1) or not (0).',
    labels: { kind: 'one series per fault kind below, 1 when active' },
    who: 'both',
  },
  eventLoopUtilization: {
    name: 'nodejs_eventloop_utilization_ratio',
    type: 'gauge',
    help: 'Share of time the event loop was busy since the previous scrape (0..1).',
    labels: {},
    who: 'both',
  },
} as const satisfies Record<string, MetricDefinition>;

/**
 * prom-client's default metrics that the dashboards and docs rely on (`collectDefaultMetrics`).
 * Only the GC one is a histogram (label `kind`); `nodejs_active_{handles,requests}_total` are gauges
 * despite the suffix (prom-client lib/metrics/processHandles.js, processRequests.js).
 */
export const promClientDefaults: ReadonlyArray<{ name: string; type: MetricType; labels: readonly string[] }> = [
  { name: 'process_cpu_seconds_total', type: 'counter', labels: [] },
  { name: 'process_resident_memory_bytes', type: 'gauge', labels: [] },
  { name: 'process_open_fds', type: 'gauge', labels: [] },
  { name: 'nodejs_eventloop_lag_seconds', type: 'gauge', labels: [] },
  { name: 'nodejs_eventloop_lag_p99_seconds', type: 'gauge', labels: [] },
  { name: 'nodejs_gc_duration_seconds', type: 'histogram', labels: ['kind'] },
  { name: 'nodejs_heap_size_used_bytes', type: 'gauge', labels: [] },
  { name: 'nodejs_heap_size_total_bytes', type: 'gauge', labels: [] },
  { name: 'nodejs_external_memory_bytes', type: 'gauge', labels: [] },
  { name: 'nodejs_active_handles_total', type: 'gauge', labels: [] },
  { name: 'nodejs_active_requests_total', type: 'gauge', labels: [] },
];

/** Label names of a definition, typed, in the order the catalogue lists them. */
export function labelNamesOf<D extends MetricDefinition>(definition: D): Array<Extract<keyof D['labels'], string>> {
  return Object.keys(definition.labels) as Array<Extract<keyof D['labels'], string>>;
}

/** The name prom-client registers a counter under: OpenMetrics adds `_total` to its samples. */
export function registeredName(definition: Pick<MetricDefinition, 'name' | 'type'>): string {
  return definition.type === 'counter' ? definition.name.replace(/_total$/, '') : definition.name;
}

const cell = (text: string) => text.replaceAll('|', '\\|');

/** The Metrics table of docs/contracts.md and README.md, as Markdown rows. */
export function metricsTableMarkdown(): string {
  const rows = ['| name | type | labels | who |', '|---|---|---|---|'];
  for (const m of Object.values(metricCatalogue) as MetricDefinition[]) {
    const labels = Object.entries(m.labels).map(([label, doc]) => (doc ? `\`${label}\` (${doc})` : `\`${label}\``));
    const labelCell = labels.length ? labels.join(', ') : m.valueNote ? `— (${m.valueNote})` : '—';
    rows.push(`| \`${m.name}\` | ${m.type} | ${cell(labelCell)} | ${m.who} |`);
  }
  const defaults = promClientDefaults.map((d) =>
    d.type === 'histogram'
      ? `\`${d.name}\` (histogram, ${d.labels.map((l) => `\`${l}\``).join(', ')})`
      : `\`${d.name}\``,
  );
  rows.push(`| prom-client defaults | — | ${defaults.join(', ')} | both |`);
  return rows.join('\n');
}
