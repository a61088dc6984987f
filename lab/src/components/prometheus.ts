import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { WorkloadInstance } from '../mesh/endpoints.js';
import { writeConfigMapDir } from '../mesh/xds-files.js';
import type { LabPaths } from '../paths.js';
import type { ServiceName } from '../workloads/services.js';

export interface ScrapeTargets {
  /** An app's one admin port, or a file_sd file listing its instances (services with replicas). */
  apps: ({ job: string; port: number } | { job: string; targetsFile: string })[];
  envoys: { proxy: string; adminPort: number }[];
}

/**
 * Rule files from grafana/rules/*.yaml. With promtool present each is checked first and a bad
 * one is left out with a warning, so one broken rule file does not keep Prometheus down.
 */
export function ruleFiles(rulesDir: string, promtool: string | null, warn: (line: string) => void): string[] {
  if (!existsSync(rulesDir)) return [];
  const files = readdirSync(rulesDir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .map((f) => path.join(rulesDir, f));
  if (!promtool) return files;
  return files.filter((file) => {
    try {
      execFileSync(promtool, ['check', 'rules', file], { stdio: 'pipe' });
      return true;
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim().split('\n').at(-1) ?? '';
      warn(`prometheus: skipping ${file}: promtool check rules failed: ${stderr}`);
      return false;
    }
  });
}

/**
 * prometheus.yml for the lab: each app's admin /metrics (job = service name) and every Envoy's
 * /stats/prometheus (job `envoy`, label `proxy`), the same series Istio's Prometheus scrapes
 * from pods' merged metrics endpoint.
 */
export function prometheusConfig(
  targets: ScrapeTargets,
  rules: string[],
  scrapeIntervalSeconds: number,
  appLabels: Record<string, string> = {},
): string {
  // Set on every target of the job, as the cluster's relabelling sets `namespace` from discovery.
  const relabel = Object.entries(appLabels).map(([label, value]) => ({ target_label: label, replacement: value }));
  const config = {
    global: { scrape_interval: `${scrapeIntervalSeconds}s`, evaluation_interval: `${scrapeIntervalSeconds}s` },
    ...(rules.length > 0 ? { rule_files: rules } : {}),
    scrape_configs: [
      ...targets.apps.map((app) => ({
        job_name: app.job,
        metrics_path: '/metrics',
        ...(relabel.length > 0 ? { relabel_configs: relabel } : {}),
        ...('port' in app
          ? { static_configs: [{ targets: [`127.0.0.1:${app.port}`] }] }
          : { file_sd_configs: [{ files: [app.targetsFile] }] }),
      })),
      ...(targets.envoys.length > 0
        ? [
            {
              job_name: 'envoy',
              metrics_path: '/stats/prometheus',
              static_configs: targets.envoys.map((e) => ({
                targets: [`127.0.0.1:${e.adminPort}`],
                labels: { proxy: e.proxy },
              })),
            },
          ]
        : []),
    ],
  };
  return stringify(config);
}

/**
 * The scrape targets of a service's instances as a Prometheus file_sd file, each labelled `pod`
 * with its instance name (as Kubernetes service discovery labels a pod's series). Rewritten when
 * instances come and go; Prometheus watches the file. Returns its path.
 */
export function writeScrapeTargets(paths: LabPaths, service: ServiceName, instances: WorkloadInstance[]): string {
  const dir = path.join(paths.prometheus, `targets-${service}`);
  const groups = instances.map((i) => ({
    targets: [`127.0.0.1:${i.info.appPorts.admin}`],
    labels: { pod: i.name },
  }));
  // Written ConfigMap-style (one rename), so Prometheus never reads a half-written file.
  writeConfigMapDir(dir, new Map([['targets.json', `${JSON.stringify(groups, null, 2)}\n`]]));
  return path.join(dir, 'targets.json');
}
