import { parseArgs } from 'node:util';
import { meshNamespace } from '@recipe-mesh/measure/mesh-namespace';
import { tieChildrenToThisProcess } from '@recipe-mesh/measure/tie';
import { kubeApi } from './api-client.js';
import { runDataPlane } from './data-plane.js';

/** The data plane of `make cluster-up` as a process of its own (data-plane.ts); SIGTERM stops it. */
const { values } = parseArgs({
  options: {
    kubeconfig: { type: 'string' },
    'lab-root': { type: 'string' },
    'lab-state-dir': { type: 'string' },
    'log-dir': { type: 'string' },
    'tie-children': { type: 'boolean' },
  },
});
// Started by a test: the lab instances it starts die with it, as it dies with the test
// (measure/src/tie.ts); `make cluster-up`'s outlive it until `make cluster-down`.
if (values['tie-children']) tieChildrenToThisProcess();
const { kubeconfig, 'lab-root': root, 'lab-state-dir': stateDir, 'log-dir': logDir } = values;
if (!kubeconfig || !root || !stateDir || !logDir) {
  console.error('usage: data-plane-main.ts --kubeconfig <file> --lab-root <dir> --lab-state-dir <dir> --log-dir <dir>');
  process.exit(2);
}
const stop = new AbortController();
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stop.abort());
await runDataPlane({
  api: kubeApi(kubeconfig),
  namespace: meshNamespace,
  lab: { root, stateDir },
  logDir,
  log: (line) => console.log(`${new Date().toISOString()} ${line}`),
  signal: stop.signal,
});
