import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { findBinary } from '@recipe-mesh/measure/binaries';
import { privateRedisArgs } from '@recipe-mesh/measure/redis-server';
import type { MeshDescription } from '../mesh/description.js';
import { xdsFile } from '../mesh/envoy-config.js';
import { writeProxyXds } from '../mesh/xds-files.js';
import { proxyFiles, sourceMode, type LabPaths } from '../paths.js';
import type { LabPorts } from '../ports.js';
import type { LaunchSpec } from '../process/processes.js';
import { prometheusConfig, ruleFiles } from './prometheus.js';

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
  scrapeIntervalSeconds?: number;
  log: (line: string) => void;
}

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

/**
 * What to start, in order: trace sink, Redis, recipe-api, web-api, the Envoys (their bootstrap
 * and xDS files written here) and Prometheus (its config written here), with each one's env,
 * ports, log file and readiness URL.
 */
export function launchSpecs(input: LaunchInput): LaunchSpec[] {
  const { paths, ports, mesh, binaries, log } = input;
  const options = input;
  const mode = binaries.envoy ? 'mesh' : 'direct';
  const url = (port: number) => `http://127.0.0.1:${port}`;
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
  const otelEnv = (service: string): Record<string, string> => ({
    OTEL_SERVICE_NAME: service,
    OTEL_EXPORTER_OTLP_ENDPOINT: url(ports.traceSink),
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    // Export within a fraction of a second so `lab trace` sees a request right away.
    OTEL_BSP_SCHEDULE_DELAY: '200',
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=lab',
  });
  const commonEnv: Record<string, string> = {
    HOST: '127.0.0.1',
    // Nothing in the lab needs endpoints to propagate, so `down` need not wait the 5 s default.
    SHUTDOWN_DRAIN_DELAY_MS: '500',
  };
  const recipeCommand = options.apps?.recipeApi ?? serviceCommand(paths.root, 'recipe-api');
  specs.push({
    name: 'recipe-api',
    kind: 'app',
    command: recipeCommand.command,
    args: recipeCommand.args,
    env: {
      ...commonEnv,
      ...otelEnv('recipe-api'),
      PORT: String(ports.recipeApi),
      GRPC_PORT: String(ports.recipeApiGrpc),
      ADMIN_PORT: String(ports.recipeApiAdmin),
      REDIS_URL: binaries.redis ? `redis://127.0.0.1:${ports.redis}` : 'none',
      ...options.appEnv,
    },
    cwd: paths.root,
    log: logFile('recipe-api'),
    ports: [
      { name: 'http', port: ports.recipeApi },
      { name: 'grpc', port: ports.recipeApiGrpc },
      { name: 'admin', port: ports.recipeApiAdmin },
    ],
    url: url(ports.recipeApi),
    readyUrl: `${url(ports.recipeApiAdmin)}/readyz`,
  });
  const webCommand = options.apps?.webApi ?? serviceCommand(paths.root, 'web-api');
  specs.push({
    name: 'web-api',
    kind: 'app',
    command: webCommand.command,
    args: webCommand.args,
    env: {
      ...commonEnv,
      ...otelEnv('web-api'),
      PORT: String(ports.webApi),
      ADMIN_PORT: String(ports.webApiAdmin),
      // In the mesh web-api reaches recipe-api only through its sidecar's outbound listeners,
      // as an app in an Istio pod does through iptables redirection to 15001.
      RECIPE_API_URL: viaMesh ? url(ports.webApiSidecarOutboundHttp) : url(ports.recipeApi),
      RECIPE_API_GRPC_TARGET: `127.0.0.1:${viaMesh ? ports.webApiSidecarOutboundGrpc : ports.recipeApiGrpc}`,
      ...options.appEnv,
    },
    cwd: paths.root,
    log: logFile('web-api'),
    ports: [
      { name: 'http', port: ports.webApi },
      { name: 'admin', port: ports.webApiAdmin },
    ],
    url: url(ports.webApi),
    readyUrl: `${url(ports.webApiAdmin)}/readyz`,
  });

  if (binaries.envoy) {
    writeFileSync(paths.meshFile, `${JSON.stringify(mesh, null, 2)}\n`);
    for (const proxy of mesh.proxies) {
      const files = proxyFiles(paths, proxy.name);
      writeProxyXds(mesh, proxy.name, files);
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
        ports: [
          { name: 'admin', port: proxy.adminPort },
          ...proxy.listeners.map((l) => ({ name: l.name, port: l.port })),
        ],
        url: proxy.name === 'ingress' ? url(ports.ingress) : null,
        readyUrl: `${url(proxy.adminPort)}/ready`,
      });
    }
  }

  if (binaries.prometheus) {
    const rules = ruleFiles(path.join(paths.root, 'grafana/rules'), findBinary('promtool'), log);
    const configFile = path.join(paths.prometheus, 'prometheus.yml');
    writeFileSync(
      configFile,
      prometheusConfig(
        {
          apps: [
            { job: 'web-api', port: ports.webApiAdmin },
            { job: 'recipe-api', port: ports.recipeApiAdmin },
          ],
          envoys: binaries.envoy ? mesh.proxies.map((p) => ({ proxy: p.name, adminPort: p.adminPort })) : [],
        },
        rules,
        options.scrapeIntervalSeconds ?? 5,
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
