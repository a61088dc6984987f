import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { defaultInterpolation, interpolate, readDashboards, variableDefaults } from '@recipe-mesh/lab/panels/targets';
import { contractMetricList, seriesNames, type ContractMetric } from './contracts.js';
import { selectedMetrics } from './promql.js';
import { parseErrors } from './promtool.js';

/**
 * Every PromQL expression the project ships (dashboard targets, annotations, variable queries,
 * Prometheus rules) and the two checks on them: it parses, and it only names metrics that exist.
 */

export interface Query {
  /** Where it comes from, e.g. "dashboards/services.json panel 2 target A". */
  source: string;
  /** As written (with Grafana variables). */
  raw: string;
  /** As Prometheus would receive it (variables and macros substituted). */
  expr: string;
}

export interface MeshMetric {
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  source: 'istio' | 'envoy';
  doc: string;
}

export interface RuleFile {
  groups: Array<{
    name: string;
    rules: Array<{ record?: string; alert?: string; expr: string; annotations?: Record<string, string> }>;
  }>;
}

export function readMeshMetrics(file: string): MeshMetric[] {
  return (JSON.parse(readFileSync(file, 'utf8')) as { families: MeshMetric[] }).families;
}

export function readRuleFiles(rulesDir: string): Array<{ file: string; rules: RuleFile }> {
  return readdirSync(rulesDir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort()
    .map((f) => ({
      file: path.join(rulesDir, f),
      rules: parse(readFileSync(path.join(rulesDir, f), 'utf8')) as RuleFile,
    }));
}

/** `label_values(<selector>, label)` → `<selector>`; null when the query has another form. */
function variableSelector(definition: string): string | null {
  const match = /^\s*label_values\(\s*(.+),\s*\w+\s*\)\s*$/s.exec(definition);
  return match ? match[1]! : null;
}

export function dashboardQueries(dashboardsDir: string): Query[] {
  const queries: Query[] = [];
  const files = readdirSync(dashboardsDir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  const dashboards = readDashboards(dashboardsDir);
  files.forEach((file, i) => {
    const d = dashboards[i] as unknown as {
      uid: string;
      panels?: Array<{ id: number; panels?: unknown[]; targets?: Array<{ refId?: string; expr?: string }> }>;
      annotations?: { list?: Array<{ name?: string; expr?: string }> };
      templating?: { list?: Array<{ name: string; definition?: string }> };
    };
    const values = { ...defaultInterpolation, variables: variableDefaults(dashboardsDir, d.uid) };
    const add = (source: string, raw: string) =>
      queries.push({ source: `dashboards/${file} ${source}`, raw, expr: interpolate(raw, values) });
    const walk = (panels: unknown[] | undefined) => {
      for (const p of (panels ?? []) as NonNullable<typeof d.panels>) {
        for (const t of p.targets ?? []) if (t.expr) add(`panel ${p.id} target ${t.refId}`, t.expr);
        walk(p.panels);
      }
    };
    walk(d.panels);
    for (const a of d.annotations?.list ?? []) if (a.expr) add(`annotation ${a.name}`, a.expr);
    for (const v of d.templating?.list ?? []) {
      const selector = v.definition ? variableSelector(v.definition) : null;
      if (selector) add(`variable ${v.name}`, selector);
    }
  });
  return queries;
}

export function ruleQueries(rulesDir: string): Query[] {
  return readRuleFiles(rulesDir).flatMap(({ file, rules }) =>
    rules.groups.flatMap((g) =>
      g.rules.map((r) => ({
        source: `${path.basename(file)} ${g.name} ${r.record ?? r.alert}`,
        raw: r.expr,
        expr: r.expr,
      })),
    ),
  );
}

/** Names recorded by the rule files (usable in other rules and dashboards). */
export function recordedNames(rulesDir: string): string[] {
  return readRuleFiles(rulesDir).flatMap(({ rules }) =>
    rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.record ? [r.record] : []))),
  );
}

/** Series names a query may select, and the family each belongs to. */
export function knownSeries(contract: ContractMetric[], mesh: MeshMetric[], recorded: string[]): Map<string, string> {
  const known = new Map<string, string>();
  for (const m of contract) for (const s of seriesNames(m)) known.set(s, 'docs/contracts.md');
  for (const m of mesh) for (const s of seriesNames(m)) known.set(s, `${m.source} (${m.doc})`);
  for (const r of recorded) known.set(r, 'grafana/rules');
  return known;
}

export function unknownMetricProblems(queries: Query[], known: Map<string, string>): string[] {
  const problems: string[] = [];
  for (const q of queries) {
    for (const name of selectedMetrics(q.expr).names) {
      if (!known.has(name))
        problems.push(
          `${q.source}: ${name} is neither in docs/contracts.md, nor in grafana/mesh-metrics.json, nor recorded by grafana/rules`,
        );
    }
  }
  return problems;
}

export async function parseProblems(promtool: string, queries: Query[]): Promise<string[]> {
  const errors = await parseErrors(
    promtool,
    queries.map((q) => q.expr),
  );
  return [...errors].map(([i, message]) => `${queries[i]!.source}: ${message}\n    ${queries[i]!.expr}`);
}

export function contractMetrics(): ContractMetric[] {
  return contractMetricList();
}
