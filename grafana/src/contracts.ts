import {
  metricCatalogue,
  promClientDefaults,
  type MetricDefinition,
  type MetricOwner,
  type MetricType,
} from '@recipe-mesh/platform/metric-catalogue';

/**
 * The metric families the services promise (services/platform/src/metric-catalogue.ts, which the
 * Metrics tables of docs/contracts.md are generated from), in the shape the dashboard checks use.
 */
export type { MetricType };

export interface ContractMetric {
  name: string;
  type: MetricType;
  /** Label names besides the default `service` label. */
  labels: string[];
  services: Array<'web-api' | 'recipe-api'>;
  /** One of prom-client's default metrics (no exemplars: they are not tied to a request). */
  promClientDefault: boolean;
}

const SERVICES = ['web-api', 'recipe-api'] as const;
const servicesOf = (who: MetricOwner): ContractMetric['services'] => (who === 'both' ? [...SERVICES] : [who]);

/** The metric families both services promise, from the catalogue `createMetrics` builds them from. */
export function contractMetricList(): ContractMetric[] {
  return [
    ...(Object.values(metricCatalogue) as MetricDefinition[]).map((m) => ({
      name: m.name,
      type: m.type,
      labels: Object.keys(m.labels),
      services: servicesOf(m.who),
      promClientDefault: false,
    })),
    ...promClientDefaults.map((d) => ({
      name: d.name,
      type: d.type,
      labels: [...d.labels],
      services: [...SERVICES],
      promClientDefault: true,
    })),
  ];
}

/** The series names a family exposes: a histogram's _bucket/_sum/_count, else its own name. */
export function seriesNames(metric: Pick<ContractMetric, 'name' | 'type'>): string[] {
  return metric.type === 'histogram'
    ? [`${metric.name}_bucket`, `${metric.name}_sum`, `${metric.name}_count`]
    : [metric.name];
}
