import { z } from 'zod';
import type { Metrics } from './metrics.js';
import { cpuPool } from './cpu-pool.js';

/** A share of requests, in percent. */
export const percent = z.number().min(0).max(100);
const routes = z.array(z.string().min(1)).optional();

/**
 * The generic faults every service takes, as the platform applies them (per request, to the
 * servers, to readiness and shutdown). Each service adds its own incident switches
 * (services/<name>/src/faults.ts) to form its fault document, the way the OpenTelemetry demo
 * keeps one flag file the services each read their own flags from (docs/contracts.md).
 */
export const platformFaultShape = {
  latency: z
    .object({
      ms: z.number().int().min(0).max(60_000),
      jitterMs: z.number().int().min(0).max(60_000).default(0),
      percent: percent.default(100),
      routes,
    })
    .strict()
    .optional()
    .describe('Added latency: `ms` plus up to `jitterMs`, on `percent` of the requests of `routes` (all when absent).'),
  errors: z
    .object({ status: z.number().int().min(400).max(599).default(503), percent: percent.default(100), routes })
    .strict()
    .optional()
    .describe('Answer `status` (503 by default) instead of serving, on `percent` of the requests of `routes`.'),
  keepAliveTimeoutMs: z
    .number()
    .int()
    .min(0)
    .max(3_600_000)
    .optional()
    .describe("The HTTP servers' keepAliveTimeout, live (the 503 UC experiment)."),
  headersTimeoutMs: z
    .number()
    .int()
    .min(1)
    .max(3_600_000)
    .optional()
    .describe("The HTTP servers' headersTimeout, live."),
  cpuBurnMs: z.number().int().min(0).max(10_000).optional().describe('Burn this much CPU per request.'),
  cpuBurnPercent: percent.optional().describe('Share of requests that burn `cpuBurnMs` (100 when absent).'),
  cpuWork: z
    .enum(['event-loop', 'worker-pool'])
    .optional()
    .describe(
      'Where the burn runs: on the event loop (`event-loop`, default: every other request waits behind it) or in a small worker-thread pool (`worker-pool`, the fix of the event-loop-block experiment).',
    ),
  unready: z.boolean().optional().describe('`/readyz` fails while `true`.'),
  gracefulShutdown: z
    .boolean()
    .optional()
    .describe('`false`: SIGTERM exits at once instead of draining (overrides `SHUTDOWN_GRACEFUL`).'),
};

export type PlatformFaults = z.infer<z.ZodObject<typeof platformFaultShape>>;

/**
 * The `fault_active{kind}` series of a document's keys: one kind per key, and when it counts as
 * active. Typed by the schema's keys, so a new fault key does not compile without its kind.
 */
export type FaultKindTable<D> = { [K in keyof D]-?: [kind: string, active: (doc: D) => boolean] };

const platformFaultKinds: FaultKindTable<PlatformFaults> = {
  latency: ['latency', (d) => d.latency !== undefined],
  errors: ['errors', (d) => d.errors !== undefined],
  keepAliveTimeoutMs: ['keep_alive_timeout', (d) => d.keepAliveTimeoutMs !== undefined],
  headersTimeoutMs: ['headers_timeout', (d) => d.headersTimeoutMs !== undefined],
  cpuBurnMs: ['cpu_burn', (d) => (d.cpuBurnMs ?? 0) > 0],
  cpuBurnPercent: ['cpu_burn_percent', (d) => d.cpuBurnPercent !== undefined],
  cpuWork: ['cpu_work_pool', (d) => d.cpuWork === 'worker-pool'],
  unready: ['unready', (d) => d.unready === true],
  gracefulShutdown: ['graceful_shutdown_off', (d) => d.gracefulShutdown === false],
};

/** A service's own incident switches: their schema (each key optional) and their fault kinds. */
export interface ServiceSwitches<S extends z.ZodRawShape = z.ZodRawShape> {
  shape: S;
  kinds: FaultKindTable<z.infer<z.ZodObject<S>>>;
}

/** Any service's switches, whatever their keys: what generic code (the registry, the runtime) accepts. */
export interface AnySwitches {
  shape: z.ZodRawShape;
  kinds: Record<string, [kind: string, active: (doc: never) => boolean]>;
}

/** Declares a service's switches (typed: every key needs its kind). */
export function serviceSwitches<S extends z.ZodRawShape>(
  shape: S,
  kinds: FaultKindTable<z.infer<z.ZodObject<S>>>,
): ServiceSwitches<S> {
  return { shape, kinds };
}

/** A service's fault document: the platform's generic faults and the service's own switches. */
export type FaultDocumentOf<W extends AnySwitches> = PlatformFaults & z.infer<z.ZodObject<W['shape']>>;

/** Any service's fault document, as the tools handle it: the generic faults and switches they pass on. */
export type FaultDocument = PlatformFaults & { [key: string]: unknown };

/**
 * What `PUT /faults` and the `FAULTS` env accept on a service. Strict, so a typo such as
 * `latncy`, or another service's switch, is a 400, not a silently ignored key.
 */
export function faultDocumentSchema<W extends AnySwitches>(switches: W) {
  return z.object({ ...platformFaultShape, ...switches.shape }).strict();
}

/** Each key of a service's document with its owner, fault kind and meaning, in document order (for docs/contracts.md). */
export function faultKeys(
  switches: AnySwitches,
): { key: string; owner: 'platform' | 'service'; kind: string; meaning: string }[] {
  const row = (owner: 'platform' | 'service', table: Record<string, [string, unknown]>, shape: z.ZodRawShape) =>
    Object.keys(shape).map((key) => ({
      key,
      owner,
      kind: table[key]![0],
      meaning: (shape[key] as z.ZodTypeAny).description ?? '',
    }));
  return [
    ...row('platform', platformFaultKinds, platformFaultShape),
    ...row('service', switches.kinds as Record<string, [string, unknown]>, switches.shape),
  ];
}

/** A service without switches of its own: the platform's faults alone. */
export const noSwitches = serviceSwitches({}, {});

export class FaultValidationError extends Error {
  constructor(readonly issues: { path: string; message: string }[]) {
    super(`invalid fault document: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`);
  }
}

function parseWith<D>(schema: z.ZodType<D>, input: unknown): D {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new FaultValidationError(result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })));
  }
  return result.data;
}

/** What to do to one request, decided once at its start. */
export interface RequestFault {
  delayMs: number;
  errorStatus?: number;
  cpuBurnMs: number;
  /** Where the burn runs; see `cpuWork` in the schema. */
  cpuWork: 'event-loop' | 'worker-pool';
}

const appliesTo = (routeList: string[] | undefined, route: string) =>
  !routeList || routeList.length === 0 || routeList.some((r) => route === r || route.startsWith(r));

/**
 * Holds the active faults of one process: the platform's and its service's switches. Services
 * subscribe to changes to apply the ones that live outside a request (server timeouts,
 * readiness, invalidation strategy, shutdown mode).
 */
export class FaultRegistry<W extends AnySwitches = AnySwitches> {
  private doc = {} as FaultDocumentOf<W>;
  private readonly listeners = new Set<(doc: FaultDocumentOf<W>) => void>();
  private readonly schema: z.ZodType<FaultDocumentOf<W>>;
  private readonly kinds: [kind: string, active: (doc: FaultDocumentOf<W>) => boolean][];

  constructor(
    switches: W,
    private readonly metrics?: Pick<Metrics, 'faultActive'>,
    private readonly random: () => number = Math.random,
  ) {
    this.schema = faultDocumentSchema(switches) as unknown as z.ZodType<FaultDocumentOf<W>>;
    this.kinds = [...Object.values(platformFaultKinds), ...Object.values(switches.kinds)] as typeof this.kinds;
    this.export();
  }

  get(): FaultDocumentOf<W> {
    return this.doc;
  }
  /** Validates, then replaces the whole document. Throws FaultValidationError and changes nothing on bad input. */
  set(input: unknown): FaultDocumentOf<W> {
    this.doc = parseWith(this.schema, input);
    this.changed();
    return this.doc;
  }
  clear(): void {
    this.doc = {} as FaultDocumentOf<W>;
    this.changed();
  }
  onChange(listener: (doc: FaultDocumentOf<W>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether one request is hit by a fault that applies to `percentage` of them; never at 0. */
  roll(percentage: number): boolean {
    return percentage > 0 && this.random() * 100 < percentage;
  }

  /** The per-request faults for a route (HTTP path or gRPC method name). */
  decide(route: string): RequestFault {
    const { latency, errors, cpuWork = 'event-loop' } = this.doc;
    const roll = (p: number) => this.random() * 100 < p;
    const burnMs = this.doc.cpuBurnMs ?? 0;
    const cpuBurnMs = burnMs > 0 && roll(this.doc.cpuBurnPercent ?? 100) ? burnMs : 0;
    let delayMs = 0;
    if (latency && appliesTo(latency.routes, route) && roll(latency.percent)) {
      delayMs = latency.ms + Math.round(this.random() * latency.jitterMs);
    }
    const errorStatus = errors && appliesTo(errors.routes, route) && roll(errors.percent) ? errors.status : undefined;
    return errorStatus === undefined ? { delayMs, cpuBurnMs, cpuWork } : { delayMs, cpuBurnMs, cpuWork, errorStatus };
  }

  private changed(): void {
    this.export();
    for (const listener of this.listeners) listener(this.doc);
  }
  private export(): void {
    if (!this.metrics) return;
    for (const [kind, active] of this.kinds) this.metrics.faultActive.set({ kind }, active(this.doc) ? 1 : 0);
  }
}

/** Busy-waits on purpose: the CPU-burn fault must block the event loop like real synchronous work. */
export function burnCpu(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    /* spin */
  }
}

/** Apply a decided fault: burn (on the loop or in the pool), then sleep. Returns the injected error status, if any. */
export async function applyRequestFault(fault: RequestFault): Promise<number | undefined> {
  if (fault.cpuBurnMs > 0) {
    if (fault.cpuWork === 'worker-pool') await cpuPool().burn(fault.cpuBurnMs);
    else burnCpu(fault.cpuBurnMs);
  }
  if (fault.delayMs > 0) await new Promise((r) => setTimeout(r, fault.delayMs));
  return fault.errorStatus;
}
