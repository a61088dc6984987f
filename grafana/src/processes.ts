import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { freePort, waitFor } from '@recipe-mesh/platform/testing/net';

/** Real Prometheus and Envoy processes for the checks, on free loopback ports, stopped by `stop()`. */

export interface Started {
  url: string;
  /** Everything the process wrote, for failure messages. */
  output: () => string;
  stop: () => Promise<void>;
}

function startProcess(binary: string, args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-20000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, output: () => log };
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

export interface ScrapeJob {
  job: string;
  target: string;
  metricsPath: string;
}

/**
 * Prometheus with a 1 s scrape and rule interval, exemplar storage on (for the exemplar checks), the
 * given rule files loaded, scraping the given targets. Ready when /-/ready answers.
 */
export async function startPrometheus(binary: string, jobs: ScrapeJob[], ruleFiles: string[] = []): Promise<Started> {
  const dir = await mkdtemp(path.join(tmpdir(), 'grafana-check-prometheus-'));
  const config = {
    global: { scrape_interval: '1s', evaluation_interval: '1s', scrape_timeout: '900ms' },
    rule_files: ruleFiles,
    scrape_configs: jobs.map((j) => ({
      job_name: j.job,
      metrics_path: j.metricsPath,
      static_configs: [{ targets: [j.target] }],
    })),
  };
  await writeFile(path.join(dir, 'prometheus.yml'), stringify(config));
  const port = await freePort();
  const { child, output } = startProcess(binary, [
    `--config.file=${path.join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--enable-feature=exemplar-storage',
    '--log.level=warn',
  ]);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopProcess(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(async () => child.exitCode === null && (await fetch(`${url}/-/ready`)).ok, {
      timeoutMs: 20000,
      what: 'Prometheus ready',
    });
  } catch (error) {
    await stop();
    throw new Error(`${String(error)}\n${output()}`);
  }
  return { url, output, stop };
}

/**
 * Envoy with one listener and two clusters named like Istio's inbound clusters: `inbound|4000||`
 * in front of an upstream that closes every connection as soon as a request arrives (each request
 * ends in 503 UC, upstream_reset_before_response_started{connection_termination}) and
 * `inbound|3000||` in front of a healthy upstream, plus the admin port for /stats/prometheus.
 */
export async function startEnvoy(
  binary: string,
  upstreams: { closing: number; healthy: number },
): Promise<Started & { listener: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'grafana-check-envoy-'));
  const [adminPort, listenerPort] = [await freePort(), await freePort()];
  const cluster = (name: string, port: number) => ({
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: {
      cluster_name: name,
      endpoints: [
        { lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] },
      ],
    },
  });
  const config = {
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: adminPort } } },
    // Histograms (upstream_rq_time) reach /stats/prometheus on each flush; 5 s by default.
    stats_flush_interval: '1s',
    static_resources: {
      listeners: [
        {
          name: 'virtualInbound',
          address: { socket_address: { address: '127.0.0.1', port_value: listenerPort } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type':
                      'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    // No dots: Envoy's tag extraction turns a dotted prefix into the metric name.
                    stat_prefix: 'inbound_http',
                    route_config: {
                      virtual_hosts: [
                        {
                          name: 'all',
                          domains: ['*'],
                          routes: [
                            { match: { prefix: '/closing' }, route: { cluster: 'inbound|4000||' } },
                            { match: { prefix: '/' }, route: { cluster: 'inbound|3000||' } },
                          ],
                        },
                      ],
                    },
                    http_filters: [
                      {
                        name: 'envoy.filters.http.router',
                        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [cluster('inbound|4000||', upstreams.closing), cluster('inbound|3000||', upstreams.healthy)],
    },
  };
  await writeFile(path.join(dir, 'envoy.yaml'), stringify(config));
  const { child, output } = startProcess(binary, [
    '-c',
    path.join(dir, 'envoy.yaml'),
    '--log-level',
    'warn',
    '--disable-hot-restart',
    '--concurrency',
    '1',
  ]);
  const url = `http://127.0.0.1:${adminPort}`;
  const stop = async () => {
    await stopProcess(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(async () => child.exitCode === null && (await fetch(`${url}/ready`)).ok, {
      timeoutMs: 20000,
      what: 'Envoy ready',
    });
  } catch (error) {
    await stop();
    throw new Error(`${String(error)}\n${output()}`);
  }
  return { url, output, stop, listener: `http://127.0.0.1:${listenerPort}` };
}

/** Family names (# TYPE lines) in a Prometheus text exposition. */
export function exposedFamilies(text: string): Set<string> {
  return new Set([...text.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1]!));
}
