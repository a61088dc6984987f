import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { inputFingerprint, KustomizeMissingError, kustomizeBuild, type RenderedObject } from './kustomize.js';
import { serviceNames, type ServiceName } from './services.js';

/**
 * How a pod of each service behaves, read from the rendered minikube overlay (`kubectl kustomize
 * k8s/overlays/minikube`): the manifests are the one source of truth, and the lab runs what they
 * say (docs/lab.md, "What the lab takes from the manifests"). Rendering takes a few seconds, so
 * the result is cached under a hash of every file the overlay reads.
 */

/** One probe as the kubelet runs it (fields and defaults: Kubernetes' core/v1 Probe). */
export interface ProbeTiming {
  path: string;
  periodMs: number;
  timeoutMs: number;
  failureThreshold: number;
  successThreshold: number;
  initialDelayMs: number;
}

export interface PodBehaviour {
  service: ServiceName;
  replicas: number;
  /** The container's literal env values (valueFrom entries are cluster-only), NODE_OPTIONS included. */
  env: Record<string, string>;
  /** Container args after the image's entrypoint (none today). */
  args: string[];
  readiness: ProbeTiming | null;
  liveness: ProbeTiming | null;
  startup: ProbeTiming | null;
  /** The preStop `sleep` action (0 when there is none). */
  preStopSleepMs: number;
  terminationGracePeriodMs: number;
  /** resources.limits.memory in bytes, or null. */
  memoryLimitBytes: number | null;
}

export interface PodBehaviours {
  /** Where the values came from: the overlay (with the cache key) or Kubernetes' defaults. */
  source: string;
  services: Record<ServiceName, PodBehaviour>;
}

export const overlay = 'k8s/overlays/minikube';

export const probeSchema = z.object({
  httpGet: z.object({ path: z.string() }),
  periodSeconds: z.number().int().positive().default(10),
  timeoutSeconds: z.number().int().positive().default(1),
  failureThreshold: z.number().int().positive().default(3),
  successThreshold: z.number().int().positive().default(1),
  initialDelaySeconds: z.number().int().nonnegative().default(0),
});

const containerSchema = z.object({
  name: z.string(),
  args: z.array(z.string()).default([]),
  env: z.array(z.object({ name: z.string(), value: z.string().optional() })).default([]),
  readinessProbe: probeSchema.optional(),
  livenessProbe: probeSchema.optional(),
  startupProbe: probeSchema.optional(),
  lifecycle: z
    .object({
      preStop: z.object({ sleep: z.object({ seconds: z.number().int().nonnegative() }).optional() }).optional(),
    })
    .optional(),
  resources: z.object({ limits: z.object({ memory: z.string().optional() }).optional() }).optional(),
});

const deploymentSchema = z.object({
  spec: z.object({
    replicas: z.number().int().nonnegative().default(1),
    template: z.object({
      spec: z.object({
        terminationGracePeriodSeconds: z.number().int().nonnegative().default(30),
        containers: z.array(containerSchema).min(1),
      }),
    }),
  }),
});

const binarySuffixes: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
const decimalSuffixes: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };

/** A Kubernetes memory quantity (`256Mi`, `1G`, `134217728`) in bytes. */
export function memoryBytes(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)([KMGT]i|[kMGT])?$/.exec(quantity.trim());
  if (!match) throw new Error(`unsupported memory quantity ${quantity}`);
  const unit = match[2] ?? '';
  return Math.round(Number(match[1]) * (binarySuffixes[unit] ?? decimalSuffixes[unit]!));
}

export function probeTiming(probe: z.infer<typeof probeSchema> | undefined): ProbeTiming | null {
  if (!probe) return null;
  return {
    path: probe.httpGet.path,
    periodMs: probe.periodSeconds * 1000,
    timeoutMs: probe.timeoutSeconds * 1000,
    failureThreshold: probe.failureThreshold,
    successThreshold: probe.successThreshold,
    initialDelayMs: probe.initialDelaySeconds * 1000,
  };
}

/** The service's Deployment in rendered objects, read into what the lab runs. */
export function podBehaviourOf(objects: RenderedObject[], service: ServiceName): PodBehaviour {
  const object = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === service);
  if (!object) throw new Error(`${overlay} renders no Deployment ${service}`);
  const parsed = deploymentSchema.safeParse(object);
  if (!parsed.success) throw new Error(`Deployment ${service}: ${z.prettifyError(parsed.error)}`);
  const pod = parsed.data.spec.template.spec;
  const container = pod.containers.find((c) => c.name === service) ?? pod.containers[0]!;
  const memory = container.resources?.limits?.memory;
  return {
    service,
    replicas: parsed.data.spec.replicas,
    env: Object.fromEntries(container.env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!])),
    args: container.args,
    readiness: probeTiming(container.readinessProbe),
    liveness: probeTiming(container.livenessProbe),
    startup: probeTiming(container.startupProbe),
    preStopSleepMs: (container.lifecycle?.preStop?.sleep?.seconds ?? 0) * 1000,
    terminationGracePeriodMs: pod.terminationGracePeriodSeconds * 1000,
    memoryLimitBytes: memory ? memoryBytes(memory) : null,
  };
}

/**
 * What a pod does when the manifests cannot be rendered: Kubernetes' own defaults (one replica,
 * no probes, no preStop, 30 s grace), so the lab still starts. Only with a loud notice.
 */
export function kubernetesDefaults(service: ServiceName): PodBehaviour {
  return {
    service,
    replicas: 1,
    env: {},
    args: [],
    readiness: null,
    liveness: null,
    startup: null,
    preStopSleepMs: 0,
    terminationGracePeriodMs: 30_000,
    memoryLimitBytes: null,
  };
}

function cacheDir(): string {
  return path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'recipe-mesh', 'lab-manifests');
}

/**
 * Each service's pod behaviour from `<root>/k8s/overlays/minikube`, rendered once per content of
 * the files it reads. Without kubectl or kustomize, Kubernetes' defaults and a line in `notices`
 * (the lab prints it and keeps it in its state); a manifest that does not render is an error.
 */
export function readPodBehaviours(root: string, notices: string[] = []): PodBehaviours {
  const key = inputFingerprint(root);
  const file = path.join(cacheDir(), `${key}.json`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PodBehaviours;
  } catch {
    /* not rendered yet */
  }
  let objects: RenderedObject[];
  try {
    objects = kustomizeBuild(path.join(root, overlay), overlay);
  } catch (error) {
    if (!(error instanceof KustomizeMissingError)) throw error;
    notices.push(
      `${error.message}. THE LAB IGNORES THE MANIFESTS: one instance per service, no probes, no preStop (Kubernetes' defaults)`,
    );
    return {
      source: "Kubernetes' defaults (kubectl and kustomize missing)",
      services: Object.fromEntries(serviceNames.map((s) => [s, kubernetesDefaults(s)])) as PodBehaviours['services'],
    };
  }
  const behaviours: PodBehaviours = {
    source: `${overlay} (rendered, inputs ${key})`,
    services: Object.fromEntries(serviceNames.map((s) => [s, podBehaviourOf(objects, s)])) as PodBehaviours['services'],
  };
  mkdirSync(cacheDir(), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(behaviours, null, 2)}\n`);
  renameSync(tmp, file);
  return behaviours;
}
