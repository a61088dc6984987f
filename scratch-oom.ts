import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { startPrivateLab } from '@recipe-mesh/lab/private-lab';
import { catalogue, labAppEnv, labReplicas } from './experiments/src/catalogue.js';
import { runOnLab } from './experiments/src/runner.js';
import type { Experiment, Fix } from './experiments/src/definition.js';
const root = process.cwd();
const lab = await startPrivateLab(root, () => {}, { appEnv: labAppEnv(), replicas: labReplicas() });
console.log('state', lab.options.stateDir);
const runs: [string, string | null, number][] = [['redis-scan-latency', 'index-set', 6], ['client-abort-leak', null, 5]];
for (const [name, fixName, d] of runs) {
  const experiment = catalogue.find((e) => e.name === name) as Experiment<unknown>;
  const fix = (fixName ? experiment.fixes.find((f) => f.name === fixName) : null) as Fix | null;
  try {
    const { report } = await runOnLab({ experiment, fix, durationS: d, lab: { ...lab.options, start: false, keep: true }, reportsDir: '/tmp/oom-reports', log: () => {}, handleSignals: false });
    console.log(name, fixName, report.verdict.outcome, report.verdict.reasons.join(' | '));
  } catch (e) { console.log(name, 'FAILED', (e as Error).message); }
}
const logs = path.join(lab.options.stateDir, 'logs');
for (const f of readdirSync(logs).filter((f) => f.startsWith('recipe-api'))) {
  const t = readFileSync(path.join(logs, f), 'utf8');
  const hits = t.split('\n').filter((l) => /heap|out of memory|FATAL|exit/i.test(l)).slice(0, 5);
  console.log(f, hits.join('\n  '));
}
await lab.stop();
