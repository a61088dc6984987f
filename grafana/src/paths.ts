import path from 'node:path';
import { repoPath } from '@recipe-mesh/measure/repo';

/** Folders the checks read, resolved from this file so tests run from any working directory. */
export const grafanaDir = repoPath('grafana');
export const dashboardsDir = path.join(grafanaDir, 'dashboards');
export const rulesDir = path.join(grafanaDir, 'rules');
export const ruleTestsDir = path.join(rulesDir, 'tests');
export const meshMetricsFile = path.join(grafanaDir, 'mesh-metrics.json');

/** The fixed datasource UIDs (docs: provisioning defines exactly these). */
export const DATASOURCE_UIDS: ReadonlySet<string> = new Set(['prometheus', 'tempo']);
