import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { catalogue } from '../../../experiments/src/catalogue.js';
import type { Experiment } from '../../../experiments/src/definition.js';
import { k8sSignals } from '../../../experiments/src/k8s-signals.js';
import { dashboardsDir, meshMetricsFile, rulesDir } from '../../src/paths.js';
import { repoRoot } from '@recipe-mesh/measure/repo';
import { selectedMetrics } from '../../src/promql.js';
import { dashboardQueries, readMeshMetrics, ruleQueries } from '../../src/queries.js';
import { statPrefixDelimiter } from '../../../k8s/test/lib/proxy-stats.js';

/**
 * Every Envoy stat the project reads, found where it is read: the PromQL of the dashboards, the
 * rules and the experiments' signals (`envoy_*` families), and the experiments' own reads of an
 * Envoy's admin /stats (`upstream_rq_retry`…, quoted in experiments/src as the counters they
 * compare). Each is turned into the stat name an Istio sidecar's Envoy gives it before tag
 * extraction, on web-api's outbound cluster to recipe-api, which is what a stats matcher sees.
 */

export interface EnvoyStatRead {
  /** Where it is read, e.g. "dashboards/mesh.json panel 3 target A" or "experiments/src/incidents/503-uc.ts". */
  reader: string;
  /** The Prometheus family (`envoy_cluster_upstream_rq_retry`) or the admin stat (`upstream_rq_retry`). */
  name: string;
  /** The stat as a sidecar's Envoy names it, e.g. `cluster.outbound|4000||recipe-api.recipe-mesh.svc.cluster.local;.upstream_rq_retry`. */
  stat: string;
}

export const sampleCluster = 'outbound|4000||recipe-api.recipe-mesh.svc.cluster.local';
/** A cluster stat as an Istio sidecar names it: `cluster.<name>;.<stat>` (its alt_stat_name ends with ";"). */
const sidecarStat = (stat: string) => `cluster.${sampleCluster}${statPrefixDelimiter}.${stat}`;
const histogramSeries = /_(bucket|sum|count)$/;

/**
 * The stats behind a Prometheus family as `expr` selects it: `envoy_cluster_<stat>`, where Istio's
 * tag regexes `_rq(_(\d{3}))$` and `_rq(_(\dxx))$` took a `_<code>` or `_<class>xx` suffix out of
 * the name (envoy_cluster_upstream_rq holds both: grafana/mesh-metrics.json); a query that names
 * `response_code_class` reads the class stats, one that names `response_code` the code stats.
 */
export function statsOfFamily(family: string, labels: string[], expr: string): string[] {
  const match = /^envoy_cluster_(\w+)$/.exec(family);
  if (!match) throw new Error(`${family}: not a cluster stat; statsOfFamily knows envoy_cluster_* only`);
  const names = [match[1]!];
  if (labels.includes('response_code') || labels.includes('response_code_class')) {
    names.length = 0;
    if (/\bresponse_code\b/.test(expr)) names.push(`${match[1]}_503`);
    if (/\bresponse_code_class\b/.test(expr)) names.push(`${match[1]}_5xx`);
    if (names.length === 0)
      throw new Error(`${family} without response_code or response_code_class counts twice: ${expr}`);
  }
  return names.map((name) => sidecarStat(name));
}

function promqlReads(source: string, expr: string): EnvoyStatRead[] {
  const mesh = new Map(readMeshMetrics(meshMetricsFile).map((m) => [m.name, m]));
  return selectedMetrics(expr)
    .names.filter((n) => n.startsWith('envoy_') && !n.includes(':'))
    .flatMap((series) => {
      const family = mesh.has(series) ? series : series.replace(histogramSeries, '');
      const documented = mesh.get(family) as { labels?: string[] } | undefined;
      if (!documented) throw new Error(`${source}: ${series} is not in grafana/mesh-metrics.json`);
      return statsOfFamily(family, documented.labels ?? [], expr).map((stat) => ({
        reader: source,
        name: family,
        stat,
      }));
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
      stat: sidecarStat(m[1]!),
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
