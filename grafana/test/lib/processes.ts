import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '@recipe-mesh/measure/net';
import { startProcess } from '@recipe-mesh/measure/process';

/** Real Prometheus and Envoy processes for the checks, on free loopback ports, stopped by `stop()`. */

export interface Started {
  url: string;
  /** Everything the process wrote, for failure messages. */
  output: () => string;
  stop: () => Promise<void>;
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
  const url = `http://127.0.0.1:${port}`;
  try {
    const started = await startProcess({
      name: 'prometheus',
      command: binary,
      args: [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--enable-feature=exemplar-storage',
        '--log.level=warn',
      ],
      ready: async () => (await fetch(`${url}/-/ready`)).ok,
    });
    const stop = async () => {
      await started.stop();
      await rm(dir, { recursive: true, force: true });
    };
    return { url, output: started.output, stop };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
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
  shape: {
    /** The bootstrap's `stats_config` (tags, matcher); Envoy's defaults when absent. */
    statsConfig?: object;
    /** Istio's sidecars end each cluster's stat name with ";" (alt_stat_name `<name>;`). */
    clusterStatDelimiter?: string;
  } = {},
): Promise<Started & { listener: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'grafana-check-envoy-'));
  const [adminPort, listenerPort] = [await freePort(), await freePort()];
  const cluster = (name: string, port: number) => ({
    name,
    ...(shape.clusterStatDelimiter ? { alt_stat_name: `${name}${shape.clusterStatDelimiter}` } : {}),
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
    ...(shape.statsConfig ? { stats_config: shape.statsConfig } : {}),
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
  const url = `http://127.0.0.1:${adminPort}`;
  try {
    const started = await startProcess({
      name: 'envoy',
      command: binary,
      args: ['-c', path.join(dir, 'envoy.yaml'), '--log-level', 'warn', '--disable-hot-restart', '--concurrency', '1'],
      ready: async () => (await fetch(`${url}/ready`)).ok,
    });
    const stop = async () => {
      await started.stop();
      await rm(dir, { recursive: true, force: true });
    };
    return { url, output: started.output, stop, listener: `http://127.0.0.1:${listenerPort}` };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
