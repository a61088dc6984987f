/**
 * The names every part of recipe-mesh builds against (services, lab, experiments, manifests,
 * dashboards), as code. Values owned by a service are read from it, not copied: env keys, their
 * defaults and doc lines, and the ports (the defaults of `PORT`, `GRPC_PORT`, `ADMIN_PORT`) come
 * from each service's zod config schema; the metric catalogue from the platform; the fault
 * document from the platform's generic faults and each service's switches. What no service owns (image names, port names, admin paths, the telemetry variables)
 * is defined here.
 *
 * docs/contracts.md's tables are generated from this module by `make docs` (scripts/gen-docs.ts)
 * and k8s/test checks the manifests against it. The dependency points from here to the services,
 * never back: no service imports this module, so no image carries it.
 */
import type { z } from 'zod';
import { type EnvSchema, configTable } from '@recipe-mesh/platform/config';
import { type AnySwitches, faultKeys } from '@recipe-mesh/platform/faults';
import { metricCatalogue, metricsTableMarkdown, promClientDefaults } from '@recipe-mesh/platform/metric-catalogue';
import { durationBuckets } from '@recipe-mesh/platform/metrics';
import { recipeApiConfigSchema } from '@recipe-mesh/recipe-api/config';
import { type RecipeApiFaults, recipeApiSwitches } from '@recipe-mesh/recipe-api/faults';
import { webApiConfigSchema } from '@recipe-mesh/web-api/config';
import { type WebApiFaults, webApiSwitches } from '@recipe-mesh/web-api/faults';

export { configTable, durationBuckets, metricCatalogue, metricsTableMarkdown, promClientDefaults };

export type ServiceName = 'web-api' | 'recipe-api';

/** Each service's fault document (`PUT /faults`): the platform's generic faults and its own switches. */
export interface AppFaults {
  'web-api': WebApiFaults;
  'recipe-api': RecipeApiFaults;
}

/** One variable a service reads: its schema's key, default (as the env string) and doc line. */
export interface EnvKey {
  name: string;
  /** The default the schema applies, as it would be written in the environment; undefined when unset. */
  default: string | undefined;
  meaning: string;
}

export interface ServiceContract {
  name: ServiceName;
  /** `recipe-mesh/<name>`, tagged by `make images` (the Dockerfile target of the same name). */
  image: string;
  /** Traffic ports by the variable that sets them, in the schema's order. */
  trafficPorts: Record<string, number>;
  adminPort: number;
  /** What each traffic port serves, by variable, for the docs. */
  serves: Record<string, string>;
  /** Its Kubernetes Service's port names: Istio picks the protocol by the name's prefix. */
  servicePorts: string[];
  env: EnvKey[];
  schema: EnvSchema;
  /** Its own fault switches (services/<name>/src/faults.ts), beside the platform's generic faults. */
  faultSwitches: AnySwitches;
}

function envKeys(schema: EnvSchema): EnvKey[] {
  return Object.entries(schema.shape).map(([name, field]) => {
    const parsed = (field as z.ZodTypeAny).safeParse(undefined);
    return {
      name,
      default: parsed.success && parsed.data !== undefined ? String(parsed.data) : undefined,
      meaning: (field as z.ZodTypeAny).description ?? '',
    };
  });
}

function portOf(schema: EnvSchema, key: string): number {
  const parsed = (schema.shape[key] as z.ZodTypeAny | undefined)?.safeParse(undefined);
  if (!parsed?.success || typeof parsed.data !== 'number') throw new Error(`config schema has no default port ${key}`);
  return parsed.data;
}

function service(
  name: ServiceName,
  schema: EnvSchema,
  faultSwitches: AnySwitches,
  serves: Record<string, string>,
  servicePorts: string[],
): ServiceContract {
  return {
    name,
    servicePorts,
    image: `recipe-mesh/${name}`,
    trafficPorts: Object.fromEntries(Object.keys(serves).map((key) => [key, portOf(schema, key)])),
    adminPort: portOf(schema, 'ADMIN_PORT'),
    serves,
    env: envKeys(schema),
    schema,
    faultSwitches,
  };
}

/** Both services, the consumer first (the order requests flow in). */
export const services: readonly ServiceContract[] = [
  service('web-api', webApiConfigSchema, webApiSwitches, { PORT: 'HTTP' }, ['http-web']),
  service(
    'recipe-api',
    recipeApiConfigSchema,
    recipeApiSwitches,
    { PORT: 'HTTP REST + `/graphql`', GRPC_PORT: 'gRPC, h2c' },
    ['http-api', 'grpc-api'],
  ),
];

export function serviceContract(name: ServiceName): ServiceContract {
  return services.find((s) => s.name === name)!;
}

/**
 * The admin port's endpoints (services/platform/src/admin-server.ts serves them; k8s/test checks
 * it does). Probes and `/metrics` never need the admin token; `/faults` does when it is set.
 */
export const adminPaths = ['/metrics', '/livez', '/readyz', '/startupz', '/faults'] as const;

/** Container port names of each Deployment (the Service ports are each service's `servicePorts`). */
export const containerPortNames = { traffic: 'http', grpc: 'grpc', admin: 'http-admin' } as const;
export const servicePortNames: readonly string[] = services.flatMap((s) => s.servicePorts);

/**
 * The standard OpenTelemetry variables the telemetry bootstrap honours
 * (services/platform/src/telemetry.ts); the services read no other OTEL_* name.
 */
export const telemetryEnv: readonly EnvKey[] = [
  {
    name: 'OTEL_SERVICE_NAME',
    default: undefined,
    meaning:
      "service.name of every span; without it (or a service.name in OTEL_RESOURCE_ATTRIBUTES) the entry script's `services/<name>/` folder.",
  },
  {
    name: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    default: undefined,
    meaning: "OTLP/HTTP base URL (`/v1/traces` is appended); the SDK's default is `http://localhost:4318`.",
  },
  { name: 'OTEL_EXPORTER_OTLP_PROTOCOL', default: 'http/protobuf', meaning: '`http/protobuf` or `http/json`.' },
  { name: 'OTEL_TRACES_SAMPLER', default: 'parentbased_always_on', meaning: 'e.g. `parentbased_traceidratio`.' },
  { name: 'OTEL_TRACES_SAMPLER_ARG', default: undefined, meaning: "The sampler's ratio, e.g. `0.1`." },
  { name: 'OTEL_RESOURCE_ATTRIBUTES', default: undefined, meaning: 'e.g. `deployment.environment=lab`.' },
  {
    name: 'OTEL_PROPAGATORS',
    default: 'tracecontext,baggage,b3multi',
    meaning: 'W3C trace context, baggage and B3 (Envoy and Istio read B3 too).',
  },
  { name: 'OTEL_SDK_DISABLED', default: 'false', meaning: '`true` turns tracing off.' },
];

/** Set by the Deployments, read by Node itself: V8 heap caps sized with the memory limits (docs/benchmarks.md, "Memory"). */
export const nodeEnv: readonly EnvKey[] = [
  { name: 'NODE_OPTIONS', default: undefined, meaning: 'V8 heap caps sized with the memory limit.' },
];

/** Every variable a service container may be given: both schemas' keys, the telemetry ones, Node's. */
export function envNames(): Set<string> {
  return new Set([
    ...services.flatMap((s) => s.env.map((e) => e.name)),
    ...telemetryEnv.map((e) => e.name),
    ...nodeEnv.map((e) => e.name),
  ]);
}

/**
 * Each variable's default. Where the services differ (`PORT`, `ADMIN_PORT`) the first service's
 * wins; the k8s checks read the shared shutdown and timeout keys, which are the same in both.
 */
export function envDefaults(): Record<string, string> {
  const defaults: Record<string, string> = {};
  for (const key of [...services.flatMap((s) => s.env), ...telemetryEnv]) {
    if (key.default !== undefined && !(key.name in defaults)) defaults[key.name] = key.default;
  }
  return defaults;
}

/** One key of a fault document: who owns it (the platform, or the services that declare it), its `fault_active` kind and meaning. */
export interface FaultKey {
  key: string;
  owners: ('platform' | ServiceName)[];
  kind: string;
  meaning: string;
}

/** Every fault key, the platform's first, then each service's own switches (a switch both declare appears once, with both owners). */
export function faultKeyTable(): FaultKey[] {
  const rows: (FaultKey & { meanings: string[] })[] = [];
  for (const s of services) {
    for (const k of faultKeys(s.faultSwitches)) {
      const owner = k.owner === 'platform' ? 'platform' : s.name;
      const row = rows.find((r) => r.key === k.key);
      if (!row) rows.push({ key: k.key, owners: [owner], kind: k.kind, meaning: '', meanings: [k.meaning] });
      else if (!row.owners.includes(owner)) {
        row.owners.push(owner);
        row.meanings.push(k.meaning);
      }
    }
  }
  // A switch two services declare means one thing in each: each owner's line, named.
  return rows.map(({ meanings, ...row }) => ({
    ...row,
    meaning: meanings.length === 1 ? meanings[0]! : meanings.map((m, i) => `${row.owners[i]}: ${m}`).join('<br>'),
  }));
}

/** Every `fault_active` kind a service may export, in document order. */
export const faultKinds: string[] = [...new Set(faultKeyTable().map((k) => k.kind))];
