import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { catalogue } from '../../../experiments/src/catalogue.js';
import type { Experiment } from '../../../experiments/src/definition.js';
import { k8sSignals } from '../../../experiments/src/k8s-signals.js';
import { dashboardsDir, meshMetricsFile, repoRoot, rulesDir } from '../../src/paths.js';
import { selectedMetrics } from '../../src/promql.js';
import { dashboardQueries, readMeshMetrics, ruleQueries } from '../../src/queries.js';

/**
 * Every Envoy stat the project reads, found where it is read: the PromQL of the dashboards, the
 * rules and the experiments' signals (`envoy_*` families), and the experiments' own reads of an
 * Envoy's admin /stats (`upstream_rq_retry`…, quoted in experiments/src as the counters they
 * compare). Each is turned into the stat name Envoy gives it before tag extraction, on web-api's
 * outbound cluster to recipe-api, which is what a stats matcher sees.
 */

export interface EnvoyStatRead {
  /** Where it is read, e.g. "dashboards/mesh.json panel 3 target A" or "experiments/src/incidents/503-uc.ts". */
  reader: string;
  /** The Prometheus family (`envoy_cluster_upstream_rq_retry`) or the admin stat (`upstream_rq_retry`). */
  name: string;
  /** The stat as Envoy names it, e.g. `cluster.outbound|4000||recipe-api.recipe-mesh.svc.cluster.local.upstream_rq_retry`. */
  stat: string;
}

export const sampleCluster = 'outbound|4000||recipe-api.recipe-mesh.svc.cluster.local';
const histogramSeries = /_(bucket|sum|count)$/;

/**
 * The stat behind a Prometheus family: `envoy_cluster_<stat>`, where a `response_code` label stands
 * for a `_<code>` suffix and `response_code_class` for `_<class>xx` (Istio's tag regexes `_rq(_(\d{3}))$`
 * and `_rq(_(\dxx))$` take them out of the name).
 */
export function statOfFamily(family: string, labels: string[]): string {
  const match = /^envoy_cluster_(\w+)$/.exec(family);
  if (!match) throw new Error(`${family}: not a cluster stat; statOfFamily knows envoy_cluster_* only`);
  let stat = match[1]!;
  if (labels.includes('response_code')) stat = `${stat}_503`;
  if (labels.includes('response_code_class')) stat = stat.replace(/_xx$/, '_5xx');
  return `cluster.${sampleCluster}.${stat}`;
}

function promqlReads(source: string, expr: string): EnvoyStatRead[] {
  const mesh = new Map(readMeshMetrics(meshMetricsFile).map((m) => [m.name, m]));
  return selectedMetrics(expr)
    .names.filter((n) => n.startsWith('envoy_') && !n.includes(':'))
    .map((series) => {
      const family = mesh.has(series) ? series : series.replace(histogramSeries, '');
      const documented = mesh.get(family) as { labels?: string[] } | undefined;
      if (!documented) throw new Error(`${source}: ${series} is not in grafana/mesh-metrics.json`);
      return { reader: source, name: family, stat: statOfFamily(family, documented.labels ?? []) };
    });
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const file = path.join(dir, entry);
    if (statSync(file).isDirectory()) return sourceFiles(file);
    return file.endsWith('.ts') && !file.endsWith('.test.ts') ? [file] : [];
  });
}

/** Admin /stats names quoted in experiments/src: `'upstream_rq_retry'`, `'upstream_rq_active'`… */
export function adminStatReads(dir = path.join(repoRoot, 'experiments/src')): EnvoyStatRead[] {
  return sourceFiles(dir).flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(/'(upstream_(?:rq|cx)_\w+)'/g)].map((m) => ({
      reader: path.relative(repoRoot, file),
      name: m[1]!,
      stat: `cluster.${sampleCluster}.${m[1]}`,
    })),
  );
}

export function envoyStatReads(): EnvoyStatRead[] {
  const experiments = (catalogue as Experiment<unknown>[]).flatMap((e) =>
    k8sSignals(e).queries.map((q) => ({ source: `experiment ${e.name} signal ${q.key}`, expr: q.promql })),
  );
  return [
    ...dashboardQueries(dashboardsDir).flatMap((q) => promqlReads(q.source, q.expr)),
    ...ruleQueries(rulesDir).flatMap((q) => promqlReads(q.source, q.expr)),
    ...experiments.flatMap((q) =>
      promqlReads(q.source, q.expr.replaceAll('$window', '5m').replaceAll('$namespace', 'recipe-mesh')),
    ),
    ...adminStatReads(),
  ];
}
