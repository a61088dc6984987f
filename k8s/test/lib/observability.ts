import { meshNamespace } from '@recipe-mesh/measure/mesh-namespace';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { resolveService } from './crossrefs.js';
import { describe, find, ofKind, workloads, type K8sObject, type Workload } from './objects.js';

/**
 * Observability wiring: files from grafana/ reach Grafana and Prometheus through generated
 * ConfigMaps, datasources and remote-write point at Services that exist, and dashboards only
 * name datasources that are provisioned.
 */

/** The generated ConfigMap whose name (before kustomize's hash suffix) is `base`. */
export function generatedConfigMap(objects: K8sObject[], base: string): K8sObject | undefined {
  return ofKind(objects, 'ConfigMap').find(
    (o) => o.metadata.name === base || new RegExp(`^${base}-[a-z0-9]{10}$`).test(o.metadata.name),
  );
}

function mountPathOf(w: Workload, configMapName: string): string | undefined {
  const volume = (w.pod.volumes ?? []).find((v: any) => v.configMap?.name === configMapName);
  if (!volume) return undefined;
  for (const c of w.pod.containers) {
    const mount = c.volumeMounts?.find((m) => m.name === volume.name);
    if (mount) return mount.mountPath;
  }
  return undefined;
}

export function filesIn(dir: string, extension: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(extension))
    .sort();
}

/**
 * Each dashboards/*.json is a key of the grafana-dashboards ConfigMap with the file's content,
 * that ConfigMap is mounted in Grafana at the path the dashboard provider reads, and every
 * datasource a dashboard names by uid is provisioned.
 */
export function dashboardProblems(objects: K8sObject[], dashboardsDir: string, datasourceUids: Set<string>): string[] {
  const problems: string[] = [];
  const files = filesIn(dashboardsDir, '.json');
  const configMap = generatedConfigMap(objects, 'grafana-dashboards');
  const grafana = workloads(objects).find((w) => w.name === 'grafana');
  if (!configMap) return ['no grafana-dashboards ConfigMap in the build (grafana/kustomization.yaml)'];
  if (!grafana) return ['no grafana Deployment in the build'];
  const provider = providerPath(objects, grafana);
  const mounted = mountPathOf(grafana, configMap.metadata.name);
  if (!provider) problems.push('grafana: no dashboard provider file is mounted');
  if (mounted !== provider)
    problems.push(`grafana: dashboards are mounted at ${mounted ?? '(nowhere)'}, the provider reads ${provider}`);
  for (const file of files) {
    const text = readFileSync(path.join(dashboardsDir, file), 'utf8');
    if (configMap.data?.[file] === undefined) {
      problems.push(
        `grafana/dashboards/${file} is not provisioned: add it to the grafana-dashboards configMapGenerator in grafana/kustomization.yaml`,
      );
      continue;
    }
    if (configMap.data[file] !== text) problems.push(`grafana/dashboards/${file}: the ConfigMap holds other content`);
    let dashboard: unknown;
    try {
      dashboard = JSON.parse(text);
    } catch (error) {
      problems.push(`grafana/dashboards/${file}: not JSON (${(error as Error).message})`);
      continue;
    }
    for (const uid of datasourceUidsIn(dashboard)) {
      if (!uid.startsWith('$') && !datasourceUids.has(uid))
        problems.push(`grafana/dashboards/${file}: datasource uid ${uid} is not provisioned`);
    }
  }
  // The API server refuses objects over 1 MiB (etcd's request limit).
  const size = Object.values(configMap.data ?? {}).reduce((sum, text) => sum + Buffer.byteLength(text), 0);
  if (size > 1_000_000)
    problems.push(`grafana-dashboards ConfigMap holds ${size} bytes, over the 1 MiB an object may have: split it`);
  for (const key of Object.keys(configMap.data ?? {})) {
    if (!files.includes(key))
      problems.push(`grafana-dashboards ConfigMap has ${key}, which is not in grafana/dashboards/`);
  }
  return problems;
}

function datasourceUidsIn(value: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(value)) value.forEach((v) => datasourceUidsIn(v, found));
  else if (value && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (key === 'datasource' && v && typeof v === 'object' && typeof (v as any).uid === 'string')
        found.add((v as any).uid);
      datasourceUidsIn(v, found);
    }
  }
  return found;
}

function providerPath(objects: K8sObject[], grafana: Workload): string | undefined {
  const configMap = generatedConfigMap(objects, 'grafana-dashboard-provider');
  if (!configMap || !mountPathOf(grafana, configMap.metadata.name)) return undefined;
  const file = Object.values(configMap.data ?? {})[0];
  const providers = (parse(file ?? '') as any)?.providers ?? [];
  return providers[0]?.options?.path;
}

export interface Datasource {
  uid: string;
  type: string;
  url: string;
  jsonData?: any;
}

export function provisionedDatasources(objects: K8sObject[]): Datasource[] {
  const configMap = generatedConfigMap(objects, 'grafana-datasources');
  return Object.values(configMap?.data ?? {}).flatMap((text) => (parse(text) as any)?.datasources ?? []);
}

/**
 * Fixed UIDs `prometheus` and `tempo`; URLs name Services and their ports; Tempo links to
 * Prometheus (traces to metrics, service map) and Prometheus exemplars link to Tempo.
 */
export function datasourceProblems(objects: K8sObject[], namespace = meshNamespace): string[] {
  const problems: string[] = [];
  const sources = provisionedDatasources(objects);
  const byUid = new Map(sources.map((s) => [s.uid, s]));
  for (const [uid, type] of [
    ['prometheus', 'prometheus'],
    ['tempo', 'tempo'],
  ] as const) {
    if (byUid.get(uid)?.type !== type) problems.push(`grafana datasources: no ${type} datasource with uid ${uid}`);
  }
  for (const source of sources) {
    const m = /^https?:\/\/([^/:]+):(\d+)/.exec(source.url ?? '');
    const service = m && resolveService(objects, m[1]!, namespace);
    if (!service) problems.push(`grafana datasource ${source.uid}: ${source.url} names no Service`);
    else if (!(service.spec?.ports ?? []).some((p: any) => p.port === Number(m![2])))
      problems.push(`grafana datasource ${source.uid}: ${describe(service)} has no port ${m![2]}`);
  }
  const tempo = byUid.get('tempo')?.jsonData ?? {};
  const known = (uid: unknown) => typeof uid === 'string' && byUid.has(uid);
  if (!known(tempo.tracesToMetrics?.datasourceUid))
    problems.push('tempo datasource: tracesToMetrics does not link a provisioned datasource');
  if (!known(tempo.serviceMap?.datasourceUid))
    problems.push('tempo datasource: serviceMap does not link a provisioned datasource');
  const exemplars = byUid.get('prometheus')?.jsonData?.exemplarTraceIdDestinations ?? [];
  if (!exemplars.some((e: any) => e.name === 'trace_id' && byUid.get(e.datasourceUid)?.type === 'tempo')) {
    problems.push('prometheus datasource: exemplars labelled trace_id (docs/contracts.md) do not link to tempo');
  }
  return problems;
}

/** Each grafana/rules/*.yaml is a key of prometheus-rules, mounted where rule_files looks. */
export function ruleFileProblems(objects: K8sObject[], rulesDir: string): string[] {
  const problems: string[] = [];
  const configMap = generatedConfigMap(objects, 'prometheus-rules');
  const prometheus = workloads(objects).find((w) => w.name === 'prometheus');
  if (!configMap || !prometheus) return ['no prometheus-rules ConfigMap or prometheus Deployment in the build'];
  const mounted = mountPathOf(prometheus, configMap.metadata.name);
  const ruleGlobs: string[] = (parse(prometheusConfigText(objects) ?? '') as any)?.rule_files ?? [];
  for (const file of filesIn(rulesDir, '.yaml')) {
    if (configMap.data?.[file] === undefined) {
      problems.push(
        `grafana/rules/${file} is not loaded: add it to the prometheus-rules configMapGenerator in grafana/kustomization.yaml`,
      );
    } else if (!ruleGlobs.some((g) => mounted && g === path.posix.join(mounted, '*.yaml'))) {
      problems.push(`prometheus: rules are mounted at ${mounted}, but rule_files is ${JSON.stringify(ruleGlobs)}`);
    }
  }
  return problems;
}

export function prometheusConfigText(objects: K8sObject[]): string | undefined {
  return find(objects, 'ConfigMap', 'prometheus-config')?.data?.['prometheus.yml'];
}

export function tempoConfig(objects: K8sObject[]): any {
  return parse(find(objects, 'ConfigMap', 'tempo-config')?.data?.['tempo.yaml'] ?? '');
}

/**
 * Tempo receives what the services and sidecars send and writes its metrics where Prometheus
 * accepts them: OTLP receivers on the ports the tempo Service exposes, metrics-generator with
 * service graphs and span metrics, remote-write to the prometheus Service with the receiver on.
 */
export function tempoWiringProblems(objects: K8sObject[], namespace = meshNamespace): string[] {
  const problems: string[] = [];
  const config = tempoConfig(objects);
  const tempoService = find(objects, 'Service', 'tempo', namespace);
  const servicePorts = new Set((tempoService?.spec?.ports ?? []).map((p: any) => p.port));
  for (const protocol of ['grpc', 'http']) {
    const endpoint: string | undefined = config?.distributor?.receivers?.otlp?.protocols?.[protocol]?.endpoint;
    const port = Number(endpoint?.split(':').pop());
    if (!endpoint) problems.push(`tempo: no OTLP ${protocol} receiver`);
    else if (!servicePorts.has(port))
      problems.push(`tempo: OTLP ${protocol} listens on ${port}, which the tempo Service does not expose`);
  }
  if (!servicePorts.has(config?.server?.http_listen_port))
    problems.push('tempo: the query port is not exposed by the tempo Service');
  const processors: string[] = config?.overrides?.defaults?.metrics_generator?.processors ?? [];
  for (const p of ['service-graphs', 'span-metrics'])
    if (!processors.includes(p)) problems.push(`tempo: metrics-generator processor ${p} is off`);
  const writes: any[] = config?.metrics_generator?.storage?.remote_write ?? [];
  if (writes.length === 0) problems.push('tempo: metrics-generator writes nowhere');
  for (const w of writes) {
    const m = /^https?:\/\/([^/:]+):(\d+)\/api\/v1\/write$/.exec(w.url ?? '');
    const service = m && resolveService(objects, m[1]!, namespace);
    if (!service || !(service.spec?.ports ?? []).some((p: any) => p.port === Number(m![2])))
      problems.push(`tempo: remote_write ${w.url} names no Service port`);
    if (w.send_exemplars !== true) problems.push('tempo: remote_write does not send exemplars');
  }
  const prometheus = workloads(objects).find((w) => w.name === 'prometheus');
  const args = prometheus?.pod.containers[0]?.args ?? [];
  if (!args.includes('--web.enable-remote-write-receiver'))
    problems.push('prometheus: remote-write receiver is off (Tempo writes to it)');
  if (!args.includes('--enable-feature=exemplar-storage')) problems.push('prometheus: exemplar storage is off');
  return problems;
}
