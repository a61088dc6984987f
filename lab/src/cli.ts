import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { listInstances } from './instances.js';
import { parseIstioVersion, type IstioVersion } from './mesh/description.js';
import { podLines } from './workloads/pod-lines.js';
import { parseReplicas, type ServiceName } from './workloads/services.js';
import { PortsTakenError } from './ports.js';
import { LabError, labPaths, labStatus, startLab, stopLab, type LabState } from './lab.js';
import { evaluatePanels } from './panels/evaluate.js';
import { allPanelsHaveData, formatPanelTable } from './panels/print.js';
import { findTrace, lastTraces } from './trace/store.js';
import { renderWaterfall } from './trace/waterfall.js';

const usage = `usage: npm run lab -- <command>
  up [--replicas <service>=<n>]...
                     start every part found (mesh when envoy is installed), wait until ready, print where;
                     each service runs as its Deployment in k8s/overlays/minikube says (replicas, env,
                     NODE_OPTIONS, readiness probe, preStop, grace period) behind readiness-driven endpoints;
                     --replicas runs n instances instead (fewer for speed: status says so)
  down               stop every lab process and check their ports are free
  status             what runs, its pid, readiness, URL and log; each service instance and whether callers' Envoys list it
  logs <name> [-n N] [-f]   a process's log (names: see status; <proxy>.access for an Envoy access log)
  trace <id>         one trace as a waterfall (an id prefix is enough)
  traces [--last N]  the last N traces (default 10)
  panels [--expr]    run every Grafana panel query (grafana/dashboards) against the lab's Prometheus:
                     series count and latest value per query; exits 1 when one is empty or fails
options: LAB_PORT_<NAME>=<port> moves a port (e.g. LAB_PORT_INGRESS=18080); LAB_WITHOUT=envoy,redis,prometheus
  leaves installed parts out; LAB_STATE_DIR (default .lab); LAB_ISTIO_VERSION=1.23 mirrors Istio before 1.24 (default 1.30)`;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** grafana/dashboards of the repository the lab runs from. */
function dashboardsDir(): string {
  return path.join(labPaths().root, 'grafana', 'dashboards');
}

function printState(state: LabState, readiness?: Map<string, boolean>): void {
  const rows = [['name', 'pid', 'ready', 'listens', 'url', 'log']];
  for (const p of state.processes) {
    rows.push([
      p.name,
      String(p.pid),
      readiness ? (readiness.get(p.name) ? 'yes' : 'NO') : 'yes',
      p.ports.map((x) => `${x.name}:${x.port}`).join(' '),
      p.url ?? '',
      path.relative(process.cwd(), p.log),
    ]);
  }
  console.log(table(rows));
  const e = state.endpoints;
  console.log(
    `\nmode: ${state.mode}${state.mode === 'mesh' ? ' (ingress → sidecars → apps, like Istio)' : ' (apps called directly)'}`,
  );
  console.log(`try:   curl '${e.publicUrl}/api/recipes/42?via=http'   (via=graphql | grpc)`);
  console.log(`admin: ${e.webApiAdminUrl}/metrics  ${e.recipeApiAdminUrl}/faults`);
  if (e.prometheusUrl) console.log(`prometheus: ${e.prometheusUrl}`);
  // The lab runs no Grafana: the same dashboards Kubernetes provisions, to import by hand.
  const dashboards = path.relative(process.cwd(), dashboardsDir()) || '.';
  console.log(
    `dashboards: ${dashboards}/*.json — import into any Grafana with datasource UIDs prometheus${e.prometheusUrl ? ` (${e.prometheusUrl})` : ''} and tempo; on minikube they are provisioned (open them with make grafana-port-forward)`,
  );
  if (e.prometheusUrl)
    console.log('panels: npm run lab -- panels   (every panel query against this Prometheus: series and latest value)');
  if (Object.keys(e.accessLogs).length)
    console.log(
      `access logs: ${path.relative(process.cwd(), path.dirname(Object.values(e.accessLogs)[0]!))}/<proxy>.access.log`,
    );
  console.log('traces: npm run lab -- traces --last 5, then npm run lab -- trace <id>');
  for (const line of state.missing) console.log(`note: ${line}`);
}

/** The instances of services with membership: process, readiness, and what callers' Envoys list. */
async function printInstances(state: LabState): Promise<void> {
  if (!state.membership) return;
  const instances = await listInstances({ stateDir: state.labId });
  const rows = [['instance', 'service', 'pid', 'process', 'ready', 'in endpoints', 'sidecar inbound']];
  for (const i of instances) {
    rows.push([
      i.name,
      i.service,
      String(i.pid),
      i.running ? (i.terminating ? 'terminating' : 'running') : i.terminating ? 'stopped' : 'exited',
      i.ready ? 'yes' : 'NO',
      i.inEndpoints === null ? 'static' : i.inEndpoints ? 'yes' : 'no',
      i.ports
        .filter((p) => p.name.startsWith('sidecar '))
        .map((p) => `${p.name.slice('sidecar '.length)}:${p.port}`)
        .join(' '),
    ]);
  }
  console.log(
    `\ninstances (readiness-driven endpoints; changes reach callers' Envoys after ${state.membership.propagationDelayMs} ms)`,
  );
  for (const line of podLines(state)) console.log(line);
  console.log(table(rows));
}

async function followFile(file: string, lines: number, follow: boolean): Promise<void> {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(file, 'utf8');
  const tail = text
    .split('\n')
    .slice(-lines - 1)
    .join('\n');
  process.stdout.write(tail.endsWith('\n') || tail === '' ? tail : `${tail}\n`);
  if (!follow) return;
  let position = statSync(file).size;
  for (;;) {
    await new Promise((r) => setTimeout(r, 300));
    const size = statSync(file).size;
    if (size > position) {
      await new Promise<void>((resolve) =>
        createReadStream(file, { start: position, end: size - 1 })
          .on('end', resolve)
          .pipe(process.stdout, { end: false }),
      );
      position = size;
    }
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const paths = labPaths();
  switch (command) {
    case 'up': {
      const { values } = parseArgs({ args: rest, options: { replicas: { type: 'string', multiple: true } } });
      let replicas: Partial<Record<ServiceName, number>>;
      try {
        replicas = parseReplicas(values.replicas ?? []);
      } catch (error) {
        throw new LabError((error as Error).message);
      }
      let istioVersion: IstioVersion | undefined;
      try {
        istioVersion = process.env.LAB_ISTIO_VERSION ? parseIstioVersion(process.env.LAB_ISTIO_VERSION) : undefined;
      } catch (error) {
        throw new LabError(`LAB_ISTIO_VERSION: ${(error as Error).message}`);
      }
      console.log('starting the lab…');
      // LAB_WITHOUT=envoy[,redis,prometheus] leaves installed parts out (e.g. to compare with direct mode).
      const without = new Set(
        (process.env.LAB_WITHOUT ?? '')
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      );
      for (const part of without) {
        if (!['envoy', 'redis', 'prometheus'].includes(part))
          throw new LabError(`LAB_WITHOUT: unknown part ${part} (envoy, redis, prometheus)`);
      }
      const use = {
        envoy: !without.has('envoy'),
        redis: !without.has('redis'),
        prometheus: !without.has('prometheus'),
      };
      const state = await startLab({
        log: (line) => console.log(line),
        use,
        ...(Object.keys(replicas).length > 0 ? { replicas } : {}),
        ...(istioVersion ? { istioVersion } : {}),
      });
      printState(state);
      return 0;
    }
    case 'down': {
      const report = await stopLab();
      if (!report.wasUp) console.log('the lab was not running; nothing to stop');
      else
        console.log(
          `stopped ${report.stopped.join(', ')}${report.killed.length ? ` (killed after the grace period: ${report.killed.join(', ')})` : ''}`,
        );
      if (report.portsStillBound.length) {
        console.error(`still bound: ${report.portsStillBound.map((p) => `${p.name} ${p.port}`).join(', ')}`);
        return 1;
      }
      return 0;
    }
    case 'status': {
      const status = await labStatus();
      if (!status.state) {
        console.log('the lab is down (npm run lab -- up, or make up)');
        return 0;
      }
      printState(status.state, new Map(status.processes.map((p) => [p.name, p.ready])));
      await printInstances(status.state);
      const dead = status.processes.filter((p) => !p.running);
      for (const p of dead)
        console.log(`${p.name} (pid ${p.pid}) is not running: see ${path.relative(process.cwd(), p.log)}`);
      return dead.length ? 1 : 0;
    }
    case 'logs': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { n: { type: 'string', short: 'n' }, follow: { type: 'boolean', short: 'f' } },
      });
      const name = positionals[0];
      const available = existsSync(paths.logs)
        ? readdirSync(paths.logs)
            .filter((f) => f.endsWith('.log'))
            .map((f) => f.replace(/\.log$/, ''))
        : [];
      if (!name || !available.includes(name)) {
        console.error(
          `${name ? `no log named ${name}` : 'logs needs a name'}; available: ${available.join(', ') || '(none: run up first)'}`,
        );
        return 2;
      }
      await followFile(path.join(paths.logs, `${name}.log`), Number(values.n ?? 100), values.follow ?? false);
      return 0;
    }
    case 'trace': {
      const id = rest[0];
      if (!id) {
        console.error('trace needs an id (see: npm run lab -- traces)');
        return 2;
      }
      const spans = await findTrace(paths.spansFile, id);
      if (spans.length === 0) {
        console.error(`no trace ${id} in ${path.relative(process.cwd(), paths.spansFile)}`);
        return 1;
      }
      console.log(
        renderWaterfall(spans, { barWidth: Math.max(20, Math.min(60, (process.stdout.columns ?? 140) - 100)) }),
      );
      return 0;
    }
    case 'traces': {
      const { values } = parseArgs({ args: rest, options: { last: { type: 'string' } } });
      const traces = await lastTraces(paths.spansFile, Number(values.last ?? 10));
      if (traces.length === 0) {
        console.log('no traces yet: send a request through the lab first');
        return 0;
      }
      const rows = [['trace id', 'start', 'ms', 'spans', 'errors', 'root', 'services']];
      for (const t of traces) {
        rows.push([
          t.traceId,
          new Date(t.startMs).toISOString().slice(11, 23),
          t.durationMs.toFixed(1),
          String(t.spanCount),
          String(t.errors),
          t.rootName,
          t.services.join(','),
        ]);
      }
      console.log(table(rows));
      return 0;
    }
    case 'panels': {
      const { values } = parseArgs({ args: rest, options: { expr: { type: 'boolean' } } });
      const status = await labStatus();
      const prometheusUrl = status.state?.endpoints.prometheusUrl;
      if (!status.state) {
        console.error('the lab is down: npm run lab -- up (or make up) first');
        return 1;
      }
      if (!prometheusUrl) {
        console.error(
          'this lab runs without Prometheus (not installed or LAB_WITHOUT): nothing to query; `make lab-deps` installs it',
        );
        return 1;
      }
      const rows = await evaluatePanels(prometheusUrl, dashboardsDir());
      console.log(formatPanelTable(rows, { showExpr: values.expr ?? false }));
      if (allPanelsHaveData(rows)) return 0;
      // Most panels are rates over traffic: a lab that has served nothing yet shows them empty.
      console.log(
        `\nsome panels have no data. Send traffic first (curl '${status.state.endpoints.publicUrl}/api/recipes/42?via=grpc', via=http|graphql|grpc), wait for a scrape (every 5 s) and run this again; --expr prints each query.`,
      );
      return 1;
    }
    default:
      console.error(usage);
      return command === undefined || command === 'help' || command === '--help' ? 0 : 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    // Known failures (port taken, already up, a part not ready) are one readable message.
    if (error instanceof LabError || error instanceof PortsTakenError) console.error(error.message);
    else console.error(error);
    process.exit(1);
  },
);
