import { z } from 'zod';
import type { Metrics } from './metrics.js';
import { cpuPool } from './cpu-pool.js';

const percent = z.number().min(0).max(100);
const routes = z.array(z.string().min(1)).optional();

/**
 * The fault document of docs/contracts.md: what `PUT /faults` and the `FAULTS` env accept.
 * Strict, so a typo such as `latncy` is a 400, not a silently ignored key.
 */
export const faultDocumentSchema = z
  .object({
    latency: z
      .object({
        ms: z.number().int().min(0).max(60_000),
        jitterMs: z.number().int().min(0).max(60_000).default(0),
        percent: percent.default(100),
        routes,
      })
      .strict()
      .optional(),
    errors: z
      .object({ status: z.number().int().min(400).max(599).default(503), percent: percent.default(100), routes })
      .strict()
      .optional(),
    keepAliveTimeoutMs: z.number().int().min(0).max(3_600_000).optional(),
    headersTimeoutMs: z.number().int().min(1).max(3_600_000).optional(),
    cpuBurnMs: z.number().int().min(0).max(10_000).optional(),
    /** Share of requests that burn `cpuBurnMs` (100 when absent): CPU-heavy work for some requests. */
    cpuBurnPercent: percent.optional(),
    /**
     * Where the burn runs: on the event loop (every other request waits behind it) or in a small
     * worker-thread pool (cpu-pool.ts) the request awaits, the fix of docs/experiments.md
     * "event-loop-block". `event-loop` when absent.
     */
    cpuWork: z.enum(['event-loop', 'worker-pool']).optional(),
    unready: z.boolean().optional(),
    invalidationStrategy: z.enum(['index', 'scan']).optional(),
    gracefulShutdown: z.boolean().optional(),
    streamCleanup: z.boolean().optional(),
    uploadLimits: z.boolean().optional(),
    readinessDependsOnRedis: z.boolean().optional(),
    /**
     * recipe-api: share of `POST /recipes` whose connection is destroyed after the store committed
     * the create, before any answer: the caller sees a reset it may retry (docs/experiments.md
     * "post-retry-duplicates").
     */
    resetAfterCreate: percent.optional(),
    /**
     * web-api: `client` forwards only the caller's `Idempotency-Key`; `per-request` mints one per
     * client request when the caller sent none, so every retry below web-api carries the same key.
     * `client` when absent.
     */
    idempotencyKeys: z.enum(['client', 'per-request']).optional(),
  })
  .strict();

export type FaultDocument = z.infer<typeof faultDocumentSchema>;

/**
 * The `fault_active{kind}` series: one kind per key of the fault document, and when it counts as
 * active. Typed by the schema's keys, so a new fault key does not compile without its kind;
 * docs/contracts.md lists these kinds (checked by scripts/docs.test.ts).
 */
const faultKindOf: { [K in keyof FaultDocument]-?: [kind: string, active: (doc: FaultDocument) => boolean] } = {
  latency: ['latency', (d) => d.latency !== undefined],
  errors: ['errors', (d) => d.errors !== undefined],
  keepAliveTimeoutMs: ['keep_alive_timeout', (d) => d.keepAliveTimeoutMs !== undefined],
  headersTimeoutMs: ['headers_timeout', (d) => d.headersTimeoutMs !== undefined],
  cpuBurnMs: ['cpu_burn', (d) => (d.cpuBurnMs ?? 0) > 0],
  cpuBurnPercent: ['cpu_burn_percent', (d) => d.cpuBurnPercent !== undefined],
  cpuWork: ['cpu_work_pool', (d) => d.cpuWork === 'worker-pool'],
  unready: ['unready', (d) => d.unready === true],
  invalidationStrategy: ['invalidation_scan', (d) => d.invalidationStrategy === 'scan'],
  gracefulShutdown: ['graceful_shutdown_off', (d) => d.gracefulShutdown === false],
  streamCleanup: ['stream_cleanup_off', (d) => d.streamCleanup === false],
  uploadLimits: ['upload_limits_off', (d) => d.uploadLimits === false],
  readinessDependsOnRedis: ['readiness_depends_on_redis', (d) => d.readinessDependsOnRedis === true],
  resetAfterCreate: ['reset_after_create', (d) => (d.resetAfterCreate ?? 0) > 0],
  idempotencyKeys: ['idempotency_keys_per_request', (d) => d.idempotencyKeys === 'per-request'],
};

/** Every `fault_active` kind, in the fault document's key order. */
export const faultKinds: string[] = Object.keys(faultDocumentSchema.shape).map(
  (key) => faultKindOf[key as keyof FaultDocument][0],
);

export class FaultValidationError extends Error {
  constructor(readonly issues: { path: string; message: string }[]) {
    super(`invalid fault document: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`);
  }
}

export function parseFaultDocument(input: unknown): FaultDocument {
  const result = faultDocumentSchema.safeParse(input);
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
 * Holds the active faults of one process. Services subscribe to changes to apply the ones that
 * live outside a request (server timeouts, readiness, invalidation strategy, shutdown mode).
 */
export class FaultRegistry {
  private doc: FaultDocument = {};
  private readonly listeners = new Set<(doc: FaultDocument) => void>();

  constructor(
    private readonly metrics?: Pick<Metrics, 'faultActive'>,
    private readonly random: () => number = Math.random,
  ) {
    this.export();
  }

  get(): FaultDocument {
    return this.doc;
  }
  /** Validates, then replaces the whole document. Throws FaultValidationError and changes nothing on bad input. */
  set(input: unknown): FaultDocument {
    this.doc = parseFaultDocument(input);
    this.changed();
    return this.doc;
  }
  clear(): void {
    this.doc = {};
    this.changed();
  }
  onChange(listener: (doc: FaultDocument) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
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

  /** Whether this create's connection is to be destroyed after the commit (`resetAfterCreate`). */
  decideResetAfterCreate(): boolean {
    const percentage = this.doc.resetAfterCreate ?? 0;
    return percentage > 0 && this.random() * 100 < percentage;
  }

  private changed(): void {
    this.export();
    for (const listener of this.listeners) listener(this.doc);
  }
  private export(): void {
    if (!this.metrics) return;
    for (const [kind, active] of Object.values(faultKindOf))
      this.metrics.faultActive.set({ kind }, active(this.doc) ? 1 : 0);
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
