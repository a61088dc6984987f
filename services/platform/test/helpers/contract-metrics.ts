import { metricCatalogue, promClientDefaults, type MetricDefinition } from '../../src/metric-catalogue.js';

/** Metric names the services promise (the catalogue docs/contracts.md's table is generated from). */
export function contractMetricNames(): string[] {
  return [
    ...(Object.values(metricCatalogue) as MetricDefinition[]).map((m) => m.name),
    ...promClientDefaults.map((d) => d.name),
  ];
}
