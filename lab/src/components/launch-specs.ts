import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { findBinary } from '@recipe-mesh/measure/binaries';
import { privateRedisArgs } from '@recipe-mesh/measure/redis-server';
import type { MeshDescription } from '../mesh/description.js';
import {
  dynamicServices,
  edsDir,
  edsFileName,
  edsTargets,
  loadAssignment,
  proxyPorts,
  type WorkloadInstance,
  type Workloads,
} from '../mesh/endpoints.js';
import { xdsFile } from '../mesh/envoy-config.js';
import { writeEdsFiles, writeProxyXds } from '../mesh/xds-files.js';
import type { MembershipSettings, ProcessRecord } from '../process/state.js';
import type { PodBehaviour } from '../workloads/manifests.js';
import { instancePortEnv, serviceShapes, type InstanceInfo, type ServiceName } from '../workloads/services.js';
import { proxyFiles, sourceMode, type LabPaths } from '../paths.js';
import type { LabPorts } from '../ports.js';
import type { LaunchSpec } from '../process/processes.js';
import { prometheusConfig, ruleFiles, writeScrapeTargets } from './prometheus.js';

/** How to start one app; the default runs the real service from source. */
export interface AppCommand {
  command: string;
  args: string[];
}

export interface LaunchInput {
  paths: LabPaths;
  ports: LabPorts;
  mesh: MeshDescription;
  /** Binaries found (null: that part is left out). */
  binaries: { envoy: string | null; redis: string | null; prometheus: string | null };
  apps?: { webApi?: AppCommand; recipeApi?: AppCommand };
  appEnv?: Record<string, string>;
  /** The instances to start per service, and whether callers reach them by membership. */
  workloads: Workloads;
  /** Set when some service has readiness-driven membership: the endpoint controller runs. */
  membership?: MembershipSettings;
  /** How each service's pods behave (the manifests, workloads/manifests.ts): env, NODE_OPTIONS, args. */
  pods?: Record<ServiceName, PodBehaviour>;
  scrapeIntervalSeconds?: number;
  /** Labels on every app series (LabOptions.scrapeLabels). */
  scrapeLabels?: Record<string, string> | undefined;
  log: (line: string) => void;
}

/**
 * Env a new or restarted instance gets on top of its sibling's (null: without it): what a pod's
 * own env sets beyond the manifests, e.g. `kubectl set env deploy/recipe-api FAULTS=…` on a
 * cluster whose pods are lab instances (k8s/kube/data-plane.ts).
 */
export type EnvChanges = Record<string, string | null>;

/** `node [--conditions=source --import tsx] <file>`: TypeScript from source in the repo, JS from dist. */
function nodeArgs(file: string): string[] {
  return sourceMode ? ['--conditions=source', '--import', 'tsx', file] : [file];
}

function serviceCommand(root: string, service: 'web-api' | 'recipe-api'): AppCommand {
  // The telemetry bootstrap is loaded with --import, as in production (docs/contracts.md); it
  // is optional here so the lab runs while services/platform/src/telemetry.ts does not exist.
  const telemetry = existsSync(path.join(root, 'services/platform/src/telemetry.ts'))
    ? ['--import', '@recipe-mesh/platform/telemetry']
    : [];
  const main = sourceMode ? `services/${service}/src/main.ts` : `services/${service}/dist/main.js`;
  const args = sourceMode ? ['--conditions=source', '--import', 'tsx', ...telemetry, main] : [...telemetry, main];
  return { command: process.execPath, args };
}

const url = (port: number) => `http://127.0.0.1:${port}`;

/**
 * The env that makes an instance itself: its ports, and `service.instance.id` (its name) on its
 * telemetry so spans and metrics of sibling instances tell apart.
 */
export function instanceEnv(name: string, instance: InstanceInfo): Record<string, string> {
  return {
    ...instancePortEnv(instance),
    OTEL_RESOURCE_ATTRIBUTES: `deployment.environment=lab,service.instance.id=${name}`,
  };
}

/**
 * The drain delay the lab gives an app whose manifests set none (they do: SHUTDOWN_DRAIN_DELAY_MS
 * in k8s/base). With readiness-driven membership, longer than it takes callers' Envoys to drop a
 * stopping instance (propagation delay plus a second for file watching and a loaded machine).
 * Without it nothing needs to propagate, and `down` need not wait the services' 5 s default.
 */
export function drainDelayMs(service: ServiceName, membership: MembershipSettings | undefined): number {
  if (!membership?.services.includes(service)) return 500;
  return membership.propagationDelayMs + 1000;
}

/**
 * The manifests' env of the service's container (NODE_OPTIONS, SHUTDOWN_*, OTEL_* …). Values
 * that name places on the cluster (ports, Redis, recipe-api, Tempo, the pod's resource
 * attributes) are replaced by the lab's own wiring, which appSpec puts after these.
 */
export function manifestEnv(pod: PodBehaviour | undefined): Record<string, string> {
  return pod?.env ?? {};
}

/** One app instance: the service's command and env on this instance's ports. */
export function appSpec(
  input: LaunchInput,
  service: ServiceName,
  instance: WorkloadInstance,
  viaMesh: boolean,
): LaunchSpec {
  const { paths, ports } = input;
  const pod = input.pods?.[service];
  const base =
    (service === 'recipe-api' ? input.apps?.recipeApi : input.apps?.webApi) ?? serviceCommand(paths.root, service);
  // The container's args follow the image's entrypoint (the service's main), as Kubernetes appends them.
  const command = { command: base.command, args: [...base.args, ...(pod?.args ?? [])] };
  const serviceEnv: Record<string, string> =
    service === 'recipe-api'
      ? { REDIS_URL: input.binaries.redis ? `redis://127.0.0.1:${ports.redis}` : 'none' }
      : {
          // In the mesh web-api reaches recipe-api only through its sidecar's outbound listeners,
          // as an app in an Istio pod does through iptables redirection to 15001.
          RECIPE_API_URL: viaMesh ? url(ports.webApiSidecarOutboundHttp) : url(ports.recipeApi),
          RECIPE_API_GRPC_TARGET: `127.0.0.1:${viaMesh ? ports.webApiSidecarOutboundGrpc : ports.recipeApiGrpc}`,
        };
  return {
    name: instance.name,
    kind: 'app',
    command: command.command,
    args: command.args,
    env: {
      SHUTDOWN_DRAIN_DELAY_MS: String(drainDelayMs(service, input.membership)),
      ...manifestEnv(pod),
      HOST: '127.0.0.1',
      OTEL_SERVICE_NAME: service,
      OTEL_EXPORTER_OTLP_ENDPOINT: url(ports.traceSink),
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      // Export within a fraction of a second so `lab trace` sees a request right away.
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
      ...instanceEnv(instance.name, instance.info),
      ...serviceEnv,
      ...input.appEnv,
    },
    ...instanceWhereabouts(paths, instance),
  };
}

/** Log, ports and URLs of an instance, from its name and ports. */
function instanceWhereabouts(
  paths: LabPaths,
  instance: WorkloadInstance,
): Pick<LaunchSpec, 'cwd' | 'log' | 'ports' | 'url' | 'readyUrl' | 'instance'> {
  const appPorts = instance.info.appPorts;
  return {
    cwd: paths.root,
    log: path.join(paths.logs, `${instance.name}.log`),
    ports: serviceShapes[instance.info.service].ports.map((p) => ({ name: p.name, port: appPorts[p.name]! })),
    url: url(appPorts.http!),
    readyUrl: `${url(appPorts.admin!)}/readyz`,
    instance: instance.info,
  };
}

/** A further instance started like `sibling` (same command and env), on its own ports and name. */
export function siblingSpec(
  paths: LabPaths,
  sibling: ProcessRecord,
  instance: WorkloadInstance,
  envChanges: EnvChanges = {},
): LaunchSpec {
  const [command, ...args] = sibling.command;
  const env: Record<string, string> = { ...sibling.env, ...instanceEnv(instance.name, instance.info) };
  for (const [name, value] of Object.entries(envChanges)) {
    if (value === null) delete env[name];
    else env[name] = value;
  }
  return {
    name: instance.name,
    kind: 'app',
    command: command!,
    args,
    env,
    ...instanceWhereabouts(paths, instance),
  };
}

/**
 * What to start, in order: trace sink, Redis, each recipe-api and web-api instance, the Envoys
 * (their bootstrap and xDS files written here), the endpoint controller when a service has
 * membership, and Prometheus (its config written here), with each one's env, ports, log file and
 * readiness URL.
 */
export function launchSpecs(input: LaunchInput): LaunchSpec[] {
  const { paths, ports, mesh, binaries, log } = input;
  const options = input;
  const mode = binaries.envoy ? 'mesh' : 'direct';
  const logFile = (name: string) => path.join(paths.logs, `${name}.log`);
  const specs: LaunchSpec[] = [];
  specs.push({
    name: 'trace-sink',
    kind: 'trace-sink',
    command: process.execPath,
    args: [
      ...nodeArgs(path.join(paths.root, sourceMode ? 'lab/src/trace/sink-main.ts' : 'lab/dist/trace/sink-main.js')),
      '--port',
      String(ports.traceSink),
      '--file',
      paths.spansFile,
    ],
    cwd: paths.root,
    log: logFile('trace-sink'),
    ports: [{ name: 'otlp-http', port: ports.traceSink }],
    url: `${url(ports.traceSink)}/v1/traces`,
    readyUrl: `${url(ports.traceSink)}/healthz`,
  });
  if (binaries.redis) {
    specs.push({
      name: 'redis',
      kind: 'redis',
      command: binaries.redis,
      args: privateRedisArgs(ports.redis, paths.redis),
      cwd: paths.root,
      log: logFile('redis'),
      ports: [{ name: 'redis', port: ports.redis }],
      url: `redis://127.0.0.1:${ports.redis}`,
      readyUrl: null,
    });
  }

  const viaMesh = mode === 'mesh';
  for (const service of ['recipe-api', 'web-api'] as const) {
    for (const instance of input.workloads[service]?.instances ?? []) {
      specs.push(appSpec(input, service, instance, viaMesh));
    }
  }

  if (binaries.envoy) {
    writeFileSync(paths.meshFile, `${JSON.stringify(mesh, null, 2)}\n`);
    for (const proxy of mesh.proxies) {
      const files = proxyFiles(paths, proxy.name);
      writeProxyXds(mesh, proxy.name, files, input.workloads);
      // Callers' EDS clusters start empty; the endpoint controller publishes ready instances.
      // A restarted Envoy keeps the files the controller has written since.
      const eds = edsTargets(mesh, dynamicServices(input.workloads)).filter((t) => t.proxy === proxy.name);
      if (eds.length > 0 && !existsSync(edsDir(files.configDir)))
        writeEdsFiles(files, new Map(eds.map((t) => [edsFileName(t.listener), loadAssignment(t.cluster, [])])));
      specs.push({
        name: proxy.name,
        kind: 'envoy',
        command: binaries.envoy,
        args: [
          '-c',
          path.join(files.configDir, xdsFile.bootstrap),
          // Config changes are applied over xDS, never by hot restart (mesh/apply.ts).
          '--disable-hot-restart',
          '--concurrency',
          '1',
          // Drain replaced listeners within 2 s (default 600 s) so changes and `down` are quick.
          '--drain-time-s',
          '2',
          // Access logs reach the file within 200 ms (default 10 s), so `logs` and experiments
          // see a request's lines right after its answer.
          '--file-flush-interval-msec',
          '200',
          '--log-level',
          'warn',
        ],
        cwd: paths.root,
        log: logFile(proxy.name),
        ports: proxyPorts(mesh, proxy.name, input.workloads),
        url: proxy.name === 'ingress' ? url(ports.ingress) : null,
        readyUrl: `${url(proxy.adminPort)}/ready`,
      });
    }
  }

  if (binaries.envoy && input.membership) {
    const main = sourceMode ? 'lab/src/membership/controller-main.ts' : 'lab/dist/membership/controller-main.js';
    specs.push({
      name: 'endpoint-controller',
      kind: 'endpoint-controller',
      command: process.execPath,
      args: [...nodeArgs(path.join(paths.root, main)), '--state-dir', paths.stateDir],
      cwd: paths.root,
      log: logFile('endpoint-controller'),
      ports: [],
      url: null,
      readyUrl: null,
    });
  }

  if (binaries.prometheus) {
    const rules = ruleFiles(path.join(paths.root, 'grafana/rules'), findBinary('promtool'), log);
    const configFile = path.join(paths.prometheus, 'prometheus.yml');
    writeFileSync(
      configFile,
      prometheusConfig(
        {
          apps: (['web-api', 'recipe-api'] as const).map((service) =>
            input.workloads[service]?.dynamic
              ? { job: service, targetsFile: writeScrapeTargets(paths, service, input.workloads[service]!.instances) }
              : { job: service, port: ports[serviceShapes[service].ports.find((p) => p.name === 'admin')!.labPort] },
          ),
          envoys: binaries.envoy ? mesh.proxies.map((p) => ({ proxy: p.name, adminPort: p.adminPort })) : [],
        },
        rules,
        options.scrapeIntervalSeconds ?? 5,
        options.scrapeLabels,
      ),
    );
    specs.push({
      name: 'prometheus',
      kind: 'prometheus',
      command: binaries.prometheus,
      args: [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${path.join(paths.prometheus, 'data')}`,
        `--web.listen-address=127.0.0.1:${ports.prometheus}`,
        // Exemplars carry trace_id from the apps' histograms (docs/contracts.md).
        '--enable-feature=exemplar-storage',
        '--web.enable-lifecycle',
      ],
      cwd: paths.root,
      log: logFile('prometheus'),
      ports: [{ name: 'http', port: ports.prometheus }],
      url: url(ports.prometheus),
      readyUrl: `${url(ports.prometheus)}/-/ready`,
    });
  }

  return specs;
}
