/**
 * Structural checks of a dashboard JSON, for what Grafana needs to provision it and for the
 * project's conventions (docs/contracts.md). Each returns a list of problems; empty means fine.
 */

export interface LintOptions {
  /** Datasource UIDs the provisioning defines (fixed: prometheus, tempo). */
  datasourceUids: ReadonlySet<string>;
  /** Histogram names whose latency panels must show exemplars (they carry trace_id). */
  exemplarHistograms: ReadonlySet<string>;
}

type Json = Record<string, unknown>;

const MACROS = new Set([
  '__rate_interval',
  '__interval',
  '__interval_ms',
  '__range',
  '__range_s',
  '__range_ms',
  '__all',
]);

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const nonEmptyString = (v: unknown): v is string => typeof v === 'string' && v.trim().length > 0;

function panelsOf(dashboard: Json): Json[] {
  const flat: Json[] = [];
  const walk = (panels: unknown) => {
    if (!Array.isArray(panels)) return;
    for (const p of panels) {
      if (!isObject(p)) continue;
      flat.push(p);
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  return flat;
}

/** Every `$name`, `${name}` and `[[name]]` a text references. */
export function referencedVariables(text: string): string[] {
  return [...text.matchAll(/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$([A-Za-z_]\w*)/g)].map((m) => (m[1] ?? m[2] ?? m[3])!);
}

export function lintDashboard(dashboard: unknown, options: LintOptions): string[] {
  const problems: string[] = [];
  if (!isObject(dashboard)) return ['not a JSON object'];
  const where = nonEmptyString(dashboard.uid) ? dashboard.uid : '(no uid)';
  const fail = (message: string) => problems.push(`${where}: ${message}`);

  if (!nonEmptyString(dashboard.uid)) fail('uid is missing');
  else if (dashboard.uid.length > 40 || !/^[A-Za-z0-9_-]+$/.test(dashboard.uid))
    fail(`uid ${dashboard.uid} is not a Grafana uid (≤40 of [A-Za-z0-9_-])`);
  if (!nonEmptyString(dashboard.title)) fail('title is missing');
  if (typeof dashboard.schemaVersion !== 'number') fail('schemaVersion is missing');
  if (!Array.isArray(dashboard.panels) || dashboard.panels.length === 0) fail('panels are missing');
  if (!nonEmptyString(dashboard.description)) fail('description is missing');

  const checkDatasource = (ds: unknown, what: string) => {
    if (!isObject(ds) || !nonEmptyString(ds.uid)) return fail(`${what}: datasource must be an object with a fixed uid`);
    if (!options.datasourceUids.has(ds.uid))
      fail(
        `${what}: datasource uid ${ds.uid} is not one the provisioning defines (${[...options.datasourceUids].join(', ')})`,
      );
  };

  const templating =
    isObject(dashboard.templating) && Array.isArray(dashboard.templating.list) ? dashboard.templating.list : [];
  const variables = new Set<string>();
  for (const v of templating) {
    if (!isObject(v) || !nonEmptyString(v.name)) {
      fail('a template variable has no name');
      continue;
    }
    variables.add(v.name);
    if (v.type === 'datasource') fail(`variable ${v.name}: datasources are fixed, not chosen by a variable`);
    if (v.type === 'query') checkDatasource(v.datasource, `variable ${v.name}`);
  }
  const checkVariables = (text: string, what: string) => {
    for (const name of referencedVariables(text)) {
      if (!variables.has(name) && !MACROS.has(name))
        fail(`${what}: uses $${name}, which the dashboard does not define`);
    }
  };
  for (const v of templating) {
    if (isObject(v) && typeof v.definition === 'string') checkVariables(v.definition, `variable ${String(v.name)}`);
  }

  const annotations =
    isObject(dashboard.annotations) && Array.isArray(dashboard.annotations.list) ? dashboard.annotations.list : [];
  for (const a of annotations) {
    if (!isObject(a)) continue;
    checkDatasource(a.datasource, `annotation ${String(a.name)}`);
    if (typeof a.expr === 'string') checkVariables(a.expr, `annotation ${String(a.name)}`);
  }

  const ids = new Set<unknown>();
  for (const panel of panelsOf(dashboard)) {
    const name = `panel ${JSON.stringify(panel.title ?? panel.id)}`;
    if (typeof panel.id !== 'number') fail(`${name}: id is missing`);
    else if (ids.has(panel.id)) fail(`${name}: panel id ${panel.id} is not unique`);
    ids.add(panel.id);
    if (!isObject(panel.gridPos)) fail(`${name}: gridPos is missing`);
    if (panel.type === 'row') continue;
    if (!nonEmptyString(panel.type)) fail(`${name}: type is missing`);
    if (!nonEmptyString(panel.title)) fail(`${name}: title is missing`);
    if (!nonEmptyString(panel.description)) fail(`${name}: description is missing`);
    else if (!/\bBad\b/.test(panel.description))
      fail(`${name}: description does not say what a bad value means ("Bad: …")`);
    const defaults =
      isObject(panel.fieldConfig) && isObject(panel.fieldConfig.defaults) ? panel.fieldConfig.defaults : {};
    if (!nonEmptyString(defaults.unit)) fail(`${name}: unit is not set (fieldConfig.defaults.unit)`);
    checkDatasource(panel.datasource, name);
    const targets = Array.isArray(panel.targets) ? panel.targets.filter(isObject) : [];
    if (targets.length === 0) fail(`${name}: has no query`);
    const refIds = new Set<unknown>();
    for (const t of targets) {
      const what = `${name} target ${String(t.refId)}`;
      if (refIds.has(t.refId)) fail(`${what}: refId is not unique`);
      refIds.add(t.refId);
      if (t.datasource !== undefined) checkDatasource(t.datasource, what);
      if (!nonEmptyString(t.expr)) {
        fail(`${what}: expr is missing`);
        continue;
      }
      checkVariables(t.expr, what);
      if (/\[\s*\d+[smhdw]\s*\]/.test(t.expr)) fail(`${what}: uses a fixed range; use [$__rate_interval]`);
      const quantileOf = /histogram_quantile\([^,]+,[\s\S]*?\b([a-z_:]+)_bucket\b/.exec(t.expr);
      if (quantileOf && options.exemplarHistograms.has(quantileOf[1]!) && t.exemplar !== true) {
        fail(`${what}: latency of ${quantileOf[1]} without exemplars (set "exemplar": true)`);
      }
    }
  }
  return problems;
}

/** Problems across dashboards: duplicate uids or titles between files. */
export function lintDashboardSet(dashboards: Array<{ file: string; json: unknown }>): string[] {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const { file, json } of dashboards) {
    if (!isObject(json)) continue;
    for (const key of ['uid', 'title'] as const) {
      const value = json[key];
      if (typeof value !== 'string') continue;
      const other = seen.get(`${key}:${value}`);
      if (other) problems.push(`${file}: ${key} ${value} is also used by ${other}`);
      seen.set(`${key}:${value}`, file);
    }
  }
  return problems;
}
