import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, waitFor } from '@recipe-mesh/measure/net';
import { nodeEntryArgs, startProcess } from '@recipe-mesh/measure/process';
import { parse, stringify } from 'yaml';
import type { ExporterClock } from './istio-exporter.js';
import type { K8sObject } from './objects.js';
import { repoPath } from './repo.js';

/**
 * A real Prometheus (Debian's) scraping istio-exporter.ts once a second, with the target labels
 * the platform's Prometheus gives a pod (k8s/components/observability/prometheus-configmap.yaml:
 * `namespace`, `pod`, `app` from its relabelling, job `kubernetes-pods`), for every pod that
 * asks to be scraped: the manifests' annotated Deployments, each replica, and Istio's ingress
 * gateway in the namespace istio/install/istio-operator.yaml installs it to.
 */

export interface ScrapedPod {
  namespace: string;
  app: string;
  pod: string;
}

export function scrapedPods(objects: K8sObject[]): ScrapedPod[] {
  const pods = objects
    .filter(
      (o) => o.kind === 'Deployment' && o.spec?.template?.metadata?.annotations?.['prometheus.io/scrape'] === 'true',
    )
    .flatMap((d) =>
      Array.from({ length: d.spec.replicas ?? 1 }, (_, i) => ({
        namespace: d.metadata.namespace!,
        app: d.spec.template.metadata.labels.app as string,
        pod: `${d.metadata.name}-${i}`,
      })),
    );
  const operator = parse(readFileSync(repoPath('istio/install/istio-operator.yaml'), 'utf8')) as {
    metadata: { namespace: string };
  };
  return [
    ...pods,
    { namespace: operator.metadata.namespace, app: 'istio-ingressgateway', pod: 'istio-ingressgateway-0' },
  ];
}

export interface IstioShapedPrometheus {
  url: string;
  clock: ExporterClock;
  stop(): Promise<void>;
}

export async function startIstioShapedPrometheus(options: {
  prometheus: string;
  pods: ScrapedPod[];
  namespace: string;
  /** How long the baseline lasts before the exporter switches to the incidents. */
  baselineMs: number;
}): Promise<IstioShapedPrometheus> {
  const dir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-prometheus-'));
  const [exporterPort, prometheusPort] = [await freePort(), await freePort()];
  const exporterUrl = `http://127.0.0.1:${exporterPort}`;
  const exporter = await startProcess({
    name: 'istio-exporter',
    command: process.execPath,
    args: [
      ...nodeEntryArgs(repoPath('k8s/test/lib/istio-exporter-main.ts')),
      `--port=${exporterPort}`,
      `--namespace=${options.namespace}`,
      `--baseline-ms=${options.baselineMs}`,
    ],
    ready: async () => (await fetch(`${exporterUrl}/clock`)).ok,
  });
  const config = {
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    scrape_configs: [
      {
        job_name: 'kubernetes-pods',
        static_configs: options.pods.map((p) => ({
          targets: [`127.0.0.1:${exporterPort}`],
          labels: { __metrics_path__: `/metrics/${p.app}`, namespace: p.namespace, pod: p.pod, app: p.app },
        })),
      },
    ],
  };
  writeFileSync(path.join(dir, 'prometheus.yml'), stringify(config));
  const url = `http://127.0.0.1:${prometheusPort}`;
  let prometheus: Awaited<ReturnType<typeof startProcess>> | undefined;
  let clock: ExporterClock;
  try {
    prometheus = await startProcess({
      name: 'prometheus',
      command: options.prometheus,
      args: [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${prometheusPort}`,
      ],
      ready: async () => (await fetch(`${url}/-/ready`)).ok,
      readyTimeoutMs: 30_000,
    });
    // The exporter's clock starts at Prometheus' first scrape (istio-exporter-main.ts).
    clock = await waitFor(async () => (await (await fetch(`${exporterUrl}/clock`)).json()) as ExporterClock | null, {
      timeoutMs: 30_000,
      intervalMs: 200,
      what: "Prometheus' first scrape of the exporter",
    });
  } catch (error) {
    await prometheus?.stop();
    await exporter.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const started = prometheus;
  return {
    url,
    clock,
    async stop() {
      await started.stop();
      await exporter.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
