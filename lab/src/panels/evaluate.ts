import { defaultInterpolation, interpolate, panelTargets, variableDefaults, type Interpolation } from './targets.js';

/**
 * `npm run lab -- panels`: runs every dashboard panel query against a Prometheus as an instant
 * query and reports how many series each returns, so that an empty panel is found before a user
 * opens Grafana. Targets that grafana/kubernetes-only.json lists (Istio telemetry) are
 * reported but not run; their Envoy-stats equivalents in the same panel are.
 */

export interface PanelRow {
  dashboard: string;
  dashboardUid: string;
  panel: string;
  panelId: number;
  refId: string;
  /** The query sent to Prometheus (variables and macros substituted). */
  expr: string;
  /** Number of series returned; null when the query was not run or failed. */
  series: number | null;
  /** The largest of the series' latest values (NaN ignored); null when there is none. */
  latestValue: number | null;
  /** Set when the target was not run: why. */
  skipped?: string;
  /** Prometheus's error for a query that failed. */
  error?: string;
}

export interface EvaluateOptions {
  /** Only these dashboard UIDs (default: all). */
  dashboards?: string[];
  /** Run Kubernetes-only targets too (against a Prometheus with Istio telemetry). */
  includeKubernetesOnly?: boolean;
  interpolation?: Partial<Omit<Interpolation, 'variables'>>;
  /** Variable values overriding each dashboard's "All" defaults. */
  variables?: Record<string, string>;
  /** Query evaluation time (default: now). */
  time?: Date;
  timeoutMs?: number;
}

interface QueryResponse {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: unknown };
}

type Sample = [number, string];

function summarise(data: NonNullable<QueryResponse['data']>): { series: number; latestValue: number | null } {
  const values: number[] = [];
  let series = 0;
  if (data.resultType === 'vector') {
    const result = data.result as Array<{ value: Sample }>;
    series = result.length;
    for (const r of result) values.push(Number(r.value[1]));
  } else if (data.resultType === 'scalar') {
    series = 1;
    values.push(Number((data.result as Sample)[1]));
  } else if (data.resultType === 'matrix') {
    const result = data.result as Array<{ values: Sample[] }>;
    series = result.length;
    for (const r of result) {
      const last = r.values.at(-1);
      if (last) values.push(Number(last[1]));
    }
  }
  const finite = values.filter((v) => !Number.isNaN(v));
  return { series, latestValue: finite.length ? Math.max(...finite) : null };
}

/** One instant query through Prometheus's HTTP API (GET /api/v1/query). */
export async function instantQuery(
  prometheusUrl: string,
  expr: string,
  { time, timeoutMs = 10000 }: { time?: Date; timeoutMs?: number } = {},
): Promise<{ series: number; latestValue: number | null }> {
  const url = new URL('api/v1/query', prometheusUrl.endsWith('/') ? prometheusUrl : `${prometheusUrl}/`);
  url.searchParams.set('query', expr);
  if (time) url.searchParams.set('time', String(time.getTime() / 1000));
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const body = (await response.json()) as QueryResponse;
  if (body.status !== 'success' || !body.data) throw new Error(body.error ?? `HTTP ${response.status}`);
  return summarise(body.data);
}

export async function evaluatePanels(
  prometheusUrl: string,
  dashboardsDir: string,
  options: EvaluateOptions = {},
): Promise<PanelRow[]> {
  const rows: PanelRow[] = [];
  const defaults = new Map<string, Record<string, string>>();
  for (const target of panelTargets(dashboardsDir)) {
    if (options.dashboards && !options.dashboards.includes(target.dashboardUid)) continue;
    if (!defaults.has(target.dashboardUid))
      defaults.set(target.dashboardUid, variableDefaults(dashboardsDir, target.dashboardUid));
    const expr = interpolate(target.rawExpr, {
      ...defaultInterpolation,
      ...options.interpolation,
      variables: { ...defaults.get(target.dashboardUid), ...options.variables },
    });
    const row: PanelRow = {
      dashboard: target.dashboard,
      dashboardUid: target.dashboardUid,
      panel: target.panel,
      panelId: target.panelId,
      refId: target.refId,
      expr,
      series: null,
      latestValue: null,
    };
    if (target.kubernetesOnly && !options.includeKubernetesOnly) {
      rows.push({ ...row, skipped: `Kubernetes only: ${target.kubernetesOnly}` });
      continue;
    }
    try {
      rows.push({ ...row, ...(await instantQuery(prometheusUrl, expr, options)) });
    } catch (error) {
      rows.push({ ...row, error: error instanceof Error ? error.message : String(error) });
    }
  }
  return rows;
}
