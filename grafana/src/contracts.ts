import { readFileSync } from 'node:fs';

/**
 * The metric families docs/contracts.md promises (its "Metrics" table), read from the document
 * itself so that the dashboards, the rules and the live test can never drift from the contract.
 */
export type MetricType = 'counter' | 'gauge' | 'histogram';

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

function backticked(text: string): string[] {
  return [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
}

/** Removes parenthesised asides such as "(template, e.g. `/recipes/:id`)" so only label names stay. */
function withoutAsides(text: string): string {
  let previous;
  let current = text;
  do {
    previous = current;
    current = current.replace(/\([^()]*\)/g, '');
  } while (current !== previous);
  return current;
}

function whoToServices(who: string): ContractMetric['services'] {
  const w = who.trim();
  if (w === 'both') return [...SERVICES];
  const found = SERVICES.filter((s) => s === w);
  if (found.length === 0) throw new Error(`docs/contracts.md: unknown "who" value ${JSON.stringify(who)}`);
  return found;
}

/** Parses the Markdown of docs/contracts.md. Throws when the Metrics table is missing or malformed. */
export function parseContractMetrics(markdown: string): ContractMetric[] {
  const section = markdown.split(/^## /m).find((s) => s.startsWith('Metrics'));
  if (!section) throw new Error('docs/contracts.md has no "## Metrics" section');
  const metrics: ContractMetric[] = [];
  for (const line of section.split('\n')) {
    if (!line.startsWith('|') || /^\|\s*(name|-)/.test(line)) continue;
    const cells = line.split('|').slice(1, -1);
    const [nameCell = '', typeCell = '', labelCell = '', whoCell = ''] = cells;
    if (nameCell.includes('prom-client defaults')) {
      // One row lists prom-client's default metrics by name; only the GC one is a histogram. The
      // CPU time is a counter, but prom-client's nodejs_active_{handles,requests}_total are gauges
      // despite the suffix (prom-client lib/metrics/processHandles.js, processRequests.js).
      for (const match of labelCell.matchAll(/`([a-z][a-z0-9_]*)`(\s*\(histogram)?/g)) {
        const name = match[1]!;
        if (!name.includes('_')) continue; // a label such as `kind`, not a metric
        metrics.push({
          name,
          type: match[2] ? 'histogram' : name.endsWith('_seconds_total') ? 'counter' : 'gauge',
          labels: match[2] ? ['kind'] : [],
          services: whoToServices(whoCell),
          promClientDefault: true,
        });
      }
      continue;
    }
    const [name] = backticked(nameCell);
    if (!name) continue;
    const type = typeCell.trim();
    if (type !== 'counter' && type !== 'gauge' && type !== 'histogram') {
      throw new Error(`docs/contracts.md: metric ${name} has unknown type ${JSON.stringify(type)}`);
    }
    metrics.push({
      name,
      type,
      labels: backticked(withoutAsides(labelCell)),
      services: whoToServices(whoCell),
      promClientDefault: false,
    });
  }
  if (metrics.length === 0) throw new Error('docs/contracts.md: the Metrics table lists no metric');
  return metrics;
}

export function readContractMetrics(file: string): ContractMetric[] {
  return parseContractMetrics(readFileSync(file, 'utf8'));
}

/** The series names a family exposes: a histogram's _bucket/_sum/_count, else its own name. */
export function seriesNames(metric: Pick<ContractMetric, 'name' | 'type'>): string[] {
  return metric.type === 'histogram'
    ? [`${metric.name}_bucket`, `${metric.name}_sum`, `${metric.name}_count`]
    : [metric.name];
}
