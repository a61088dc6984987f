import {
  panelTargets,
  readKubernetesOnly,
  type KubernetesOnlyEntry,
  type PanelTarget,
} from '@recipe-mesh/lab/panels/targets';
import { selectedMetrics } from './promql.js';
import type { MeshMetric } from './queries.js';
import { seriesNames } from './contracts.js';

/**
 * grafana/kubernetes-only.json must list exactly the dashboard targets that read Istio telemetry
 * (absent in the lab), and each must have a lab equivalent in the same panel that reads none.
 */
export function kubernetesOnlyProblems(
  targets: PanelTarget[],
  listed: KubernetesOnlyEntry[],
  mesh: MeshMetric[],
): string[] {
  const istioSeries = new Set(mesh.filter((m) => m.source === 'istio').flatMap(seriesNames));
  const usesIstio = (expr: string) => selectedMetrics(expr).names.some((n) => istioSeries.has(n));
  const key = (d: string, p: string, r: string) => `${d} / ${p} / ${r}`;
  const byKey = new Map(targets.map((t) => [key(t.dashboardUid, t.panel, t.refId), t]));
  const problems: string[] = [];
  for (const t of targets) {
    const isListed = listed.some((l) => key(l.dashboard, l.panel, l.refId) === key(t.dashboardUid, t.panel, t.refId));
    if (usesIstio(t.rawExpr) && !isListed)
      problems.push(
        `${key(t.dashboardUid, t.panel, t.refId)}: reads Istio telemetry but is not in kubernetes-only.json`,
      );
  }
  for (const l of listed) {
    const t = byKey.get(key(l.dashboard, l.panel, l.refId));
    if (!t) {
      problems.push(`${key(l.dashboard, l.panel, l.refId)}: listed in kubernetes-only.json but no such target exists`);
      continue;
    }
    if (!usesIstio(t.rawExpr))
      problems.push(`${key(l.dashboard, l.panel, l.refId)}: listed as Kubernetes-only but reads no Istio metric`);
    if (l.labEquivalent.length === 0) problems.push(`${key(l.dashboard, l.panel, l.refId)}: has no lab equivalent`);
    for (const ref of l.labEquivalent) {
      const eq = byKey.get(key(l.dashboard, l.panel, ref));
      if (!eq)
        problems.push(`${key(l.dashboard, l.panel, l.refId)}: lab equivalent ${ref} does not exist in the panel`);
      else if (usesIstio(eq.rawExpr))
        problems.push(`${key(l.dashboard, l.panel, l.refId)}: lab equivalent ${ref} reads Istio telemetry too`);
    }
  }
  return problems;
}

export function kubernetesOnlyProblemsIn(dashboardsDir: string, mesh: MeshMetric[]): string[] {
  return kubernetesOnlyProblems(panelTargets(dashboardsDir), readKubernetesOnly(dashboardsDir), mesh);
}
