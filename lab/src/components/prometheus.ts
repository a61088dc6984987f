import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';

export interface ScrapeTargets {
  apps: { job: string; port: number }[];
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
export function prometheusConfig(targets: ScrapeTargets, rules: string[], scrapeIntervalSeconds: number): string {
  const config = {
    global: { scrape_interval: `${scrapeIntervalSeconds}s`, evaluation_interval: `${scrapeIntervalSeconds}s` },
    ...(rules.length > 0 ? { rule_files: rules } : {}),
    scrape_configs: [
      ...targets.apps.map((app) => ({
        job_name: app.job,
        metrics_path: '/metrics',
        static_configs: [{ targets: [`127.0.0.1:${app.port}`] }],
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
