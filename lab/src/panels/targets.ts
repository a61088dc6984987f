import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Every PromQL query of the provisioned dashboards (grafana/dashboards/*.json), with Grafana's
 * template variables and macros replaced the way Grafana would before sending it to Prometheus.
 */

export interface PanelTarget {
  dashboard: string;
  dashboardUid: string;
  panel: string;
  panelId: number;
  refId: string;
  /** The query as written in the dashboard, with $variables and $__macros. */
  rawExpr: string;
  exemplar: boolean;
  /** Reason, when grafana/kubernetes-only.json lists the target (Istio-only telemetry). */
  kubernetesOnly?: string;
}

export interface KubernetesOnlyEntry {
  dashboard: string;
  panel: string;
  refId: string;
  reason: string;
  labEquivalent: string[];
}

interface DashboardJson {
  uid: string;
  title: string;
  panels?: PanelJson[];
  templating?: { list?: VariableJson[] };
}
interface PanelJson {
  id: number;
  type: string;
  title: string;
  panels?: PanelJson[];
  targets?: Array<{ refId?: string; expr?: string; exemplar?: boolean; hide?: boolean }>;
}
interface VariableJson {
  name: string;
  type: string;
  includeAll?: boolean;
  allValue?: string | null;
  current?: { value?: string | string[] };
  query?: unknown;
}

export function readDashboards(dashboardsDir: string): DashboardJson[] {
  return readdirSync(dashboardsDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(path.join(dashboardsDir, f), 'utf8')) as DashboardJson);
}

/** grafana/kubernetes-only.json next to the dashboards folder; an empty list when absent. */
export function readKubernetesOnly(dashboardsDir: string): KubernetesOnlyEntry[] {
  const file = path.join(dashboardsDir, '..', 'kubernetes-only.json');
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { targets: KubernetesOnlyEntry[] }).targets;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Panels of a dashboard, including those nested in collapsed rows. */
function flatPanels(panels: PanelJson[] = []): PanelJson[] {
  return panels.flatMap((p) => [p, ...flatPanels(p.panels)]);
}

export function panelTargets(dashboardsDir: string): PanelTarget[] {
  const kubernetesOnly = readKubernetesOnly(dashboardsDir);
  const targets: PanelTarget[] = [];
  for (const d of readDashboards(dashboardsDir)) {
    for (const p of flatPanels(d.panels)) {
      for (const t of p.targets ?? []) {
        if (!t.expr || t.hide) continue;
        const listed = kubernetesOnly.find((k) => k.dashboard === d.uid && k.panel === p.title && k.refId === t.refId);
        targets.push({
          dashboard: d.title,
          dashboardUid: d.uid,
          panel: p.title,
          panelId: p.id,
          refId: t.refId ?? '',
          rawExpr: t.expr,
          exemplar: t.exemplar === true,
          ...(listed ? { kubernetesOnly: listed.reason } : {}),
        });
      }
    }
  }
  return targets;
}

export interface Interpolation {
  /** Value for $__rate_interval. Grafana uses max(4 × scrape interval, $__interval + scrape interval). */
  rateInterval: string;
  /** Value for $__interval (the step Grafana picks for the panel width). */
  interval: string;
  /** Value for $__range (the dashboard's time range). */
  range: string;
  /** Variable values; defaults to each variable's "All" value. */
  variables: Record<string, string>;
}

export const defaultInterpolation: Omit<Interpolation, 'variables'> = {
  rateInterval: '1m',
  interval: '15s',
  range: '30m',
};

/** A variable's "All" value as Grafana sends it for the default selection. */
export function variableDefaults(dashboardsDir: string, dashboardUid: string): Record<string, string> {
  const d = readDashboards(dashboardsDir).find((x) => x.uid === dashboardUid);
  const values: Record<string, string> = {};
  for (const v of d?.templating?.list ?? []) {
    if (v.includeAll && v.allValue) values[v.name] = v.allValue;
    else if (v.includeAll) values[v.name] = '.*';
    else {
      const current = v.current?.value;
      values[v.name] = Array.isArray(current) ? current.join('|') : (current ?? '');
    }
  }
  return values;
}

/**
 * Replaces `$name`, `${name}`, `${name:format}` and `[[name]]` with their values. Names Grafana does
 * not know stay as they are (as Grafana leaves them), so a misspelt variable reaches Prometheus and
 * fails there instead of silently matching everything.
 */
export function interpolate(expr: string, values: Interpolation): string {
  const known: Record<string, string> = {
    __rate_interval: values.rateInterval,
    __interval: values.interval,
    __range: values.range,
    ...values.variables,
  };
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g, (whole, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c)!;
    return Object.hasOwn(known, name) ? known[name]! : whole;
  });
}
