import type { RecipeApiFaults } from '@recipe-mesh/recipe-api/faults';
import type { WebApiFaults } from '@recipe-mesh/web-api/faults';
import type { MeshDescription, ProxyName } from '@recipe-mesh/lab/mesh/description';
import type { AccessLogEntry } from '@recipe-mesh/measure/access-log';
import type { PodBehaviour } from '@recipe-mesh/lab/workloads/manifests';
import type { LatencySummary } from '@recipe-mesh/measure/latency';
import type { MetricDelta, Scrape } from '@recipe-mesh/measure/metric-text';
import type { TraceSpan } from './evidence/trace.js';
import type { K8sSide } from './k8s-side.js';

/**
 * What an experiment module declares (docs/experiments.md, "Adding an experiment"): the incident it
 * comes from, the hypothesis, the setup that injects it, the load, the signals, the verdict rule
 * and the fix as the exact change a user makes in production. The runner owns everything else:
 * starting the lab, applying and restoring setups, reports and exit codes.
 */

export type ServiceName = 'web-api' | 'recipe-api';

export interface Setup {
  /** Human lines for the report's "what was injected". */
  describe: string[];
  /** Each service's own fault document (services/<name>/src/faults.ts: the platform's faults and its switches). */
  appFaults: { 'web-api'?: WebApiFaults; 'recipe-api'?: RecipeApiFaults };
  /**
   * Mesh components by name, each `istio/faults/<name>/` (kustomize patches of istio/): applied as
   * `make fault FAULT=<name>` on k8s, translated into the lab's Envoy patches by
   * mesh/components.ts. The one home of every Istio-side change (docs/experiments.md).
   */
  mesh: string[];
  /** Redis CONFIG values set for the run (restored afterwards), e.g. slowlog-log-slower-than. */
  redisConfig?: Record<string, string>;
  /**
   * Services whose pods run without the Deployment's `preStop` sleep for the run (restored
   * afterwards): on the lab for the instances it stops, on Kubernetes a patch of the Deployment.
   */
  withoutPreStop?: ServiceName[];
}

export interface ProductionChange {
  kind: 'node-setting' | 'istio-resource' | 'code-pattern';
  title: string;
  /** The exact snippet: TypeScript, YAML… */
  snippet: string;
  /** Where this repo applies it. */
  repoFile: string;
}

export interface Fix {
  /** Selected with `--fix-variant <name>`; the first fix is the default of `--fix`. */
  name: string;
  summary: string;
  setup: Setup;
  production: ProductionChange[];
}

/**
 * Where the lab reads a signal, so `--dry-run` can check it exists before anything is injected:
 * an access log file, a metric family on a service's admin /metrics, Envoy admin stats, the trace
 * sink, Redis, or the run's own client (always there).
 */
export type LabSource =
  | { kind: 'access-log'; proxy: ProxyName }
  | { kind: 'metric'; service: ServiceName; family: string }
  | { kind: 'envoy-stats'; proxy: ProxyName }
  | { kind: 'traces' }
  | { kind: 'redis' }
  | { kind: 'client' };

/**
 * One number a verdict reads (docs/experiments.md, "Signals"). The lab reads it from the run's
 * evidence (`readSignals`), Kubernetes with `promql`; one `judge` decides on the values either way.
 */
export interface Signal {
  title: string;
  unit: string;
  /** Where the number comes from on the lab target, in words. */
  lab: string;
  labSource: LabSource;
  /** How to answer the same question on the k8s target, in words (PromQL, kubectl, Tempo). */
  k8s: string;
  /**
   * The PromQL `--target k8s` reads it with; `$namespace` and `$window` (the run's length) are
   * filled in. Absent when the signal is not in Prometheus: then it is not read on k8s.
   */
  promql?: string;
}

/**
 * An experiment's signals by key. A required signal with no data makes the run inconclusive
 * ("no data for <title>"), never a pass, so every required signal has `promql` as well; optional
 * ones only add reasons and may exist on one target only (traces, SLOWLOG, Envoy admin stats).
 */
export interface Signals<K extends string, O extends string> {
  required: Record<K, Signal>;
  optional: Record<O, Signal>;
}

/** A reading per signal key: a number, or null when it was read and there was no data. */
export type SignalValues<K extends string = string, O extends string = string> = Record<K, number | null> &
  Partial<Record<O, number | null>>;

/** What `judge` sees: every required signal has a number (verdict.ts `decide` made sure). */
export type JudgeInput<K extends string = string, O extends string = string> = Record<K, number> &
  Partial<Record<O, number | null>>;

export type Outcome = 'incident' | 'healthy' | 'inconclusive';

export interface Verdict {
  outcome: Outcome;
  /** The numbers and comparisons that decided it, one per line. */
  reasons: string[];
}

export interface PhaseLoad {
  phase: string;
  requests: number;
  /** Counts by `status flags` as the client saw them (flags from the ingress' response-flags header). */
  byStatusFlag: Record<string, number>;
  latencyMs: LatencySummary;
}

export interface SignalReading {
  name: string;
  baseline: number | null;
  observed: number | null;
  unit: string;
}

/** What the report shows of an experiment's evidence (the JSON report carries the evidence too). */
export interface Presentation {
  load: PhaseLoad[];
  signals: SignalReading[];
  metricDeltas: MetricDelta[];
  /** Access-log entries matching the signal, with the proxy that wrote them. */
  accessLog: { proxy: string; entry: AccessLogEntry }[];
  /** Counts by `status flags` per proxy listener, from the access logs. */
  accessLogCounts: Record<string, Record<string, number>>;
  trace: { spans: TraceSpan[]; why: string } | null;
  /** Extra findings, e.g. what Istio's default retries did. */
  findings: string[];
}

export interface LoadProfile {
  describe: string;
  /** Seconds of load under fault by default; `--duration` overrides. */
  defaultDurationS: number;
}

/** What the runner hands an experiment's `run`. */
export interface RunContext {
  target: LabTarget;
  /** The setup chosen for this run (incident or one fix). */
  setup: Setup;
  fix: boolean;
  durationS: number;
  /** Applies `setup` (app faults, mesh, Redis config); everything is restored by the runner. */
  applySetup(): Promise<void>;
  /** Registers an undo for something the experiment itself changed (e.g. keys it seeded). */
  onRestore(label: string, undo: () => Promise<void>): void;
  log(message: string): void;
}

export interface Experiment<E = unknown, K extends string = string, O extends string = string> {
  name: string;
  title: string;
  incident: { title: string; source: string };
  hypothesis: string;
  incidentSetup: Setup;
  fixes: Fix[];
  load: LoadProfile;
  /** Every number the verdict reads, by a key typed per experiment. */
  signals: Signals<K, O>;
  /** The rule `judge` applies, in words, for the report and docs. */
  verdictRule: string;
  run(ctx: RunContext): Promise<E>;
  /** The lab's reader of every signal: the run's evidence as one value per key. Pure. */
  readSignals(evidence: E): SignalValues<K, O>;
  /**
   * The one verdict rule of both targets, on signal values alone (verdict.ts `decide` calls it once
   * every required signal has data). Pure; unit-tested on recorded values for each outcome.
   */
  judge(values: JudgeInput<K, O>): Verdict;
  present(evidence: E): Presentation;
  /**
   * Instances a service needs during the run (a Deployment's replicas). The lab must run that
   * service with readiness-driven membership (`npm run lab -- up --replicas recipe-api=1`; the
   * runner starts it so when it starts the lab); the runner adds the missing instances for the run
   * and removes them afterwards.
   */
  labInstances?: Partial<Record<ServiceName, number>>;
  /**
   * App env the lab must start with for this experiment (only startup settings, e.g. recipe-api's
   * SCAN_COUNT); the runner passes it when it starts the lab itself.
   */
  labAppEnv?: Record<string, string>;
  /** `--target k8s`: its load, how faults reach every pod, and each signal's exact reading (k8s-side.ts). */
  k8s: K8sSide<K | O>;
}

/** Access to a running lab, as experiments use it. Implemented by targets/lab.ts. */
export interface LabTarget {
  urls: {
    ingress: string;
    webApi: string;
    recipeApi: string;
    /** recipe-api's sidecar inbound HTTP listener: the mesh hop in front of recipe-api. */
    recipeApiSidecar: string;
    admin: Record<ServiceName, string>;
    redis: string | null;
  };
  responseFlagsHeader: string;
  scrape(service: ServiceName): Promise<Scrape>;
  /** A mark in every proxy's access log; `accessLogSince(mark)` reads what was written after it. */
  accessLogMark(): Promise<AccessLogMark>;
  accessLogSince(mark: AccessLogMark): Promise<Record<string, AccessLogEntry[]>>;
  /** The mesh description the lab's Envoys run with now. */
  mesh(): MeshDescription;
  /** Counters of one Envoy (admin `/stats`), filtered by a regex, e.g. `upstream_rq_retry`. */
  envoyStats(proxy: ProxyName, filter: string): Promise<Record<string, number>>;
  /** The instances of a service started with membership (docs/lab.md, "Several instances of a service"). */
  instances: LabInstances;
  /**
   * How each service's pods behave as the lab runs them: the manifests' replicas, probes, preStop,
   * grace period and memory limit (lab/src/workloads/manifests.ts). Faults are sized from these.
   */
  pods: Record<ServiceName, PodBehaviour>;
  /** Spans of recent traces, newest first (flushed by the services and Envoy to the sink). */
  traces(options?: { sinceMs?: number }): Promise<TraceSpan[][]>;

  // The plumbing every experiment needs, here once, each with a deadline (docs/experiments.md).
  /**
   * Access logs since `mark`, read until `complete` says every line the experiment expects is
   * there (Envoy flushes file logs in batches, file_flush_interval 1 s): reading, not sleeping.
   * Throws "timed out after … waiting for <what>" at the deadline (default 5 s).
   */
  accessLogWhen(
    mark: AccessLogMark,
    complete: (logs: Record<string, AccessLogEntry[]>) => boolean,
    options: { what: string; timeoutMs?: number },
  ): Promise<Record<string, AccessLogEntry[]>>;
  /**
   * Reads `read` until `done` holds or `maxMs` passes; not settling is an answer (a leak), so it
   * resolves either way with the last reading.
   */
  settle<T>(
    read: () => Promise<T>,
    done: (value: T) => boolean,
    options: { maxMs: number; intervalMs?: number },
  ): Promise<{ value: T; settled: boolean; afterMs: number }>;
  /** Polls the trace sink until `pick` finds something (or null at the deadline: absence is evidence). */
  waitForTrace<T>(
    pick: (traces: TraceSpan[][]) => T | null | undefined,
    options: { sinceMs: number; timeoutMs: number },
  ): Promise<T | null>;
  /** Calls `read` every `everyMs` until `until` settles (at least `minMs`); readings that throw are skipped. */
  sampleWhile<T>(
    read: () => Promise<T>,
    until: Promise<unknown>,
    options: { everyMs: number; minMs?: number },
  ): Promise<T[]>;
}

export type AccessLogMark = Record<string, number>;

/** One instance as experiments see it: its name and its admin URL (for faults and /readyz). */
export interface InstanceHandle {
  name: string;
  adminUrl: string;
  running: boolean;
  ready: boolean;
  /** Every caller's Envoy lists it as a healthy endpoint (null: the service has no membership). */
  inEndpoints: boolean | null;
}

/**
 * Instance drills of lab/src/instances.ts, each resolving once the condition holds where it
 * matters (the process is ready or gone, callers' Envoys list it or not).
 */
export interface LabInstances {
  list(service: ServiceName): Promise<InstanceHandle[]>;
  /** A further instance, ready and in every caller's endpoints. */
  start(service: ServiceName): Promise<InstanceHandle>;
  /**
   * Deleted as the kubelet stops a pod: preStop sleep, SIGTERM (the app's graceful-shutdown setting
   * decides what follows), SIGKILL after the grace period; then removed from the lab.
   */
  delete(name: string): Promise<{ preStopMs: number; exitedAfterMs: number } | null>;
}
