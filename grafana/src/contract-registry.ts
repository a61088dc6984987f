import { randomBytes } from 'node:crypto';
import client from 'prom-client';
import { durationBuckets } from '@recipe-mesh/platform/metrics';
import { vias } from '@recipe-mesh/platform/request-rules';
import type { ContractMetric } from './contracts.js';

/**
 * One prom-client registry per service holding every family docs/contracts.md promises, with the
 * contract's labels and buckets, fed with observations, served as OpenMetrics (so histograms carry
 * `trace_id` exemplars) — a stand-in for the services' /metrics that checks the dashboards against
 * the contract's shape. The real services are checked the same way by the lab's panel check.
 */

/** Example values per label name: a good and a bad one where the dashboards tell them apart. */
export const SAMPLE_LABEL_VALUES: Record<string, string[]> = {
  method: ['GET'],
  route: ['/recipes/:id'],
  status_code: ['200', '503'],
  grpc_method: ['GetRecipe'],
  grpc_code: ['OK', 'UNAVAILABLE'],
  operation_name: ['recipe'],
  operation_type: ['query'],
  outcome: ['success', 'error', 'server_error'],
  via: [...vias],
  operation: ['getRecipe'],
  command: ['get', 'scan'],
  result: ['hit', 'miss'],
  strategy: ['index', 'scan'],
  reason: ['redis_unavailable'],
  kind: ['latency', 'keep_alive_timeout'],
};

type OpenMetricsRegistry = client.Registry<client.OpenMetricsContentType>;
// prom-client's typings omit the constructor's content-type argument (lib/registry.js takes it).
const OpenMetricsRegistry = client.Registry as unknown as new (
  contentType: client.OpenMetricsContentType,
) => OpenMetricsRegistry;

type AnyMetric = client.Counter<string> | client.Gauge<string> | client.Histogram<string>;

export interface ContractRegistries {
  registries: Map<string, OpenMetricsRegistry>;
  /** Adds one round of observations to every series (call it repeatedly so rates are non-zero). */
  observe: () => void;
}

function combinations(labels: string[]): Array<Record<string, string>> {
  return labels.reduce<Array<Record<string, string>>>(
    (acc, label) => {
      const values = SAMPLE_LABEL_VALUES[label];
      if (!values) throw new Error(`no sample values for contract label ${label}: add it to SAMPLE_LABEL_VALUES`);
      return acc.flatMap((partial) => values.map((v) => ({ ...partial, [label]: v })));
    },
    [{}],
  );
}

export function contractRegistries(metrics: ContractMetric[]): ContractRegistries {
  const registries = new Map<string, OpenMetricsRegistry>();
  const families: Array<{ metric: ContractMetric; instance: AnyMetric }> = [];
  for (const service of ['web-api', 'recipe-api'] as const) {
    const registry = new OpenMetricsRegistry(client.Registry.OPENMETRICS_CONTENT_TYPE);
    registry.setDefaultLabels({ service });
    registries.set(service, registry);
    for (const metric of metrics.filter((m) => m.services.includes(service))) {
      const common = {
        name: metric.name,
        help: `${metric.name} (docs/contracts.md)`,
        labelNames: metric.labels,
        registers: [registry],
      };
      const instance: AnyMetric =
        metric.type === 'histogram'
          ? new client.Histogram({ ...common, buckets: durationBuckets, enableExemplars: true })
          : metric.type === 'counter'
            ? new client.Counter(common)
            : new client.Gauge(common);
      families.push({ metric, instance });
    }
  }
  let round = 0;
  const observe = () => {
    round += 1;
    for (const { metric, instance } of families) {
      for (const labels of combinations(metric.labels)) {
        if (instance instanceof client.Histogram) {
          // Mostly fast answers and a slow one now and then, each with a trace id exemplar.
          const value = round % 5 === 0 ? 0.3 : 0.003;
          instance.observe({ labels, value, exemplarLabels: { trace_id: randomBytes(16).toString('hex') } });
        } else if (instance instanceof client.Counter) {
          instance.inc(labels, 1);
        } else {
          instance.set(labels, metric.name === 'redis_connection_up' ? 1 : round % 10);
        }
      }
    }
  };
  observe();
  return { registries, observe };
}
