/**
 * Small builders for Grafana dashboard JSON (schemaVersion 39, Grafana 10/11), so that every
 * dashboard follows the same conventions: fixed datasource UIDs (the provisioning defines
 * `prometheus` and `tempo`), `$__rate_interval`, namespace/service variables, a unit and a
 * description on every panel, exemplars on latency panels.
 */

export const PROMETHEUS = { type: 'prometheus', uid: 'prometheus' } as const;
export const TEMPO = { type: 'tempo', uid: 'tempo' } as const;
export const SCHEMA_VERSION = 39;

export interface TargetSpec {
  expr: string;
  legend: string;
  /** Latency panels: Grafana shows exemplars, whose trace_id opens the trace in Tempo. */
  exemplar?: boolean;
  /** Set when the query reads Istio telemetry that only exists on Kubernetes: why. */
  kubernetesOnly?: string;
}

export interface PanelSpec {
  title: string;
  description: string;
  unit: string;
  targets: TargetSpec[];
  type?: 'timeseries' | 'stat' | 'state-timeline';
  width?: number;
  height?: number;
  min?: number;
  max?: number;
  /** Value → text for stat and state-timeline panels, e.g. {0: 'down', 1: 'ready'}. */
  valueText?: Record<string, { text: string; color: string }>;
  /** Values at and above `value` turn `color` (red for "bad"). */
  thresholds?: Array<{ value: number; color: string }>;
}

export interface Section {
  row?: string;
  panels: PanelSpec[];
}

export interface VariableSpec {
  name: string;
  label: string;
  /** A Grafana `label_values(<selector>, <label>)` query. */
  query: string;
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  variables: VariableSpec[];
  sections: Section[];
  /** Add the "Active faults" annotation (fault_active > 0) over every panel. */
  faultAnnotations?: boolean;
}

export interface KubernetesOnlyTarget {
  dashboard: string;
  panel: string;
  refId: string;
  reason: string;
  /** refIds of the same panel that show the same thing from Envoy's own stats in the lab. */
  labEquivalent: string[];
}

const REF_IDS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

function variable(spec: VariableSpec) {
  return {
    name: spec.name,
    label: spec.label,
    type: 'query',
    datasource: PROMETHEUS,
    definition: spec.query,
    query: { query: spec.query, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
    refresh: 2,
    sort: 1,
    multi: true,
    includeAll: true,
    // ".*" (not Grafana's default of joining every value) also matches series without the
    // label: the lab's series carry no `namespace` label at all.
    allValue: '.*',
    current: { selected: true, text: ['All'], value: ['$__all'] },
    hide: 0,
    options: [],
  };
}

function faultAnnotation() {
  return {
    name: 'Active faults',
    datasource: PROMETHEUS,
    enable: true,
    hide: false,
    iconColor: 'red',
    expr: 'max by (service, kind) (fault_active{namespace=~"$namespace"}) > 0',
    step: '15s',
    titleFormat: 'fault {{kind}} on {{service}}',
    textFormat: 'fault_active{kind="{{kind}}"} = 1 (set through PUT /faults or an experiment)',
    tagKeys: 'service,kind',
    useValueForTime: false,
  };
}

function thresholds(spec: PanelSpec) {
  return {
    mode: 'absolute',
    steps: [{ color: 'green', value: null }, ...(spec.thresholds ?? [])],
  };
}

function mappings(spec: PanelSpec) {
  if (!spec.valueText) return [];
  return [
    {
      type: 'value',
      options: Object.fromEntries(Object.entries(spec.valueText).map(([v, t], index) => [v, { ...t, index }])),
    },
  ];
}

function panel(spec: PanelSpec, id: number, gridPos: { x: number; y: number; w: number; h: number }) {
  const type = spec.type ?? 'timeseries';
  const defaults: Record<string, unknown> = { unit: spec.unit, thresholds: thresholds(spec), mappings: mappings(spec) };
  if (spec.min !== undefined) defaults.min = spec.min;
  if (spec.max !== undefined) defaults.max = spec.max;
  let options: Record<string, unknown>;
  if (type === 'timeseries') {
    defaults.color = { mode: 'palette-classic' };
    defaults.custom = {
      drawStyle: 'line',
      lineWidth: 1,
      fillOpacity: 10,
      showPoints: 'never',
      spanNulls: false,
      ...(spec.thresholds ? { thresholdsStyle: { mode: 'dashed' } } : {}),
    };
    options = {
      legend: { showLegend: true, displayMode: 'table', placement: 'bottom', calcs: ['lastNotNull', 'max'] },
      tooltip: { mode: 'multi', sort: 'desc' },
    };
  } else if (type === 'stat') {
    defaults.color = { mode: 'thresholds' };
    options = {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      colorMode: 'background',
      graphMode: 'none',
      justifyMode: 'auto',
      textMode: 'value_and_name',
      orientation: 'auto',
    };
  } else {
    defaults.color = { mode: 'thresholds' };
    defaults.custom = { fillOpacity: 80, lineWidth: 0 };
    options = {
      mergeValues: true,
      showValue: 'never',
      alignValue: 'left',
      rowHeight: 0.9,
      legend: { showLegend: true, displayMode: 'list', placement: 'bottom' },
      tooltip: { mode: 'single', sort: 'none' },
    };
  }
  return {
    id,
    type,
    title: spec.title,
    description: spec.description,
    datasource: PROMETHEUS,
    gridPos,
    fieldConfig: { defaults, overrides: [] },
    options,
    targets: spec.targets.map((t, i) => ({
      datasource: PROMETHEUS,
      refId: REF_IDS[i],
      expr: t.expr,
      legendFormat: t.legend,
      editorMode: 'code',
      range: true,
      instant: false,
      exemplar: t.exemplar ?? false,
    })),
  };
}

/** The dashboard JSON Grafana provisions, and the targets that only work on Kubernetes. */
export function buildDashboard(spec: DashboardSpec): {
  json: Record<string, unknown>;
  kubernetesOnly: KubernetesOnlyTarget[];
} {
  const panels: unknown[] = [];
  const kubernetesOnly: KubernetesOnlyTarget[] = [];
  let id = 1;
  let y = 0;
  for (const section of spec.sections) {
    if (section.row) {
      panels.push({
        id: id++,
        type: 'row',
        title: section.row,
        collapsed: false,
        gridPos: { x: 0, y, w: 24, h: 1 },
        panels: [],
      });
      y += 1;
    }
    let x = 0;
    let rowHeight = 0;
    for (const p of section.panels) {
      const w = p.width ?? 8;
      const h = p.height ?? 8;
      if (x + w > 24) {
        x = 0;
        y += rowHeight;
        rowHeight = 0;
      }
      panels.push(panel(p, id++, { x, y, w, h }));
      p.targets.forEach((t, i) => {
        if (!t.kubernetesOnly) return;
        kubernetesOnly.push({
          dashboard: spec.uid,
          panel: p.title,
          refId: REF_IDS[i]!,
          reason: t.kubernetesOnly,
          labEquivalent: p.targets.flatMap((other, j) => (other.kubernetesOnly ? [] : [REF_IDS[j]!])),
        });
      });
      x += w;
      rowHeight = Math.max(rowHeight, h);
    }
    y += rowHeight;
  }
  const json = {
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: spec.tags,
    editable: true,
    graphTooltip: 1,
    schemaVersion: SCHEMA_VERSION,
    version: 1,
    time: { from: 'now-30m', to: 'now' },
    refresh: '10s',
    timezone: 'browser',
    links: [
      {
        title: 'recipe-mesh dashboards',
        type: 'dashboards',
        tags: ['recipe-mesh'],
        asDropdown: true,
        includeVars: true,
        keepTime: true,
      },
    ],
    templating: { list: spec.variables.map(variable) },
    annotations: { list: spec.faultAnnotations === false ? [] : [faultAnnotation()] },
    panels,
  };
  return { json, kubernetesOnly };
}

/** `{namespace=~"$namespace", service=~"$service"}` plus extra matchers, for our services' metrics. */
export function app(extra = ''): string {
  return `{namespace=~"$namespace", service=~"$service"${extra ? `, ${extra}` : ''}}`;
}

export const namespaceVariable = (metric: string): VariableSpec => ({
  name: 'namespace',
  label: 'Namespace',
  query: `label_values(${metric}, namespace)`,
});

export const serviceVariable = (metric: string): VariableSpec => ({
  name: 'service',
  label: 'Service',
  query: `label_values(${metric}{namespace=~"$namespace"}, service)`,
});

/** p-quantile of a histogram from its _bucket series, grouped by `by` (le added). */
export function quantile(q: number, bucket: string, by: string): string {
  return `histogram_quantile(${q}, sum by (${by}, le) (rate(${bucket}[$__rate_interval])))`;
}

/**
 * Ratio of `part` to `whole` rates grouped by `by`, that reads 0 (not "No data") while no
 * request matched `part`: prom-client only exports a labelled series once it was observed.
 */
export function ratio(series: string, partMatchers: string, by: string): string {
  const whole = `sum by (${by}) (rate(${series}${app()}[$__rate_interval]))`;
  const part = `sum by (${by}) (rate(${series}${app(partMatchers)}[$__rate_interval]))`;
  return `(${part} or ${whole} * 0) / ${whole}`;
}
