/**
 * Loaded (`--import`) into every test file's process by scripts/run-tests.mjs (Node's test runner
 * passes its exec arguments on to the files' processes). Two things make an interrupted `make test`, `make k8s-check` or
 * test file leave nothing behind (docs/architecture.md, "Processes a test starts"):
 * - the lab's and the control plane's processes started here die with this process (tie.ts);
 * - this process ends when its parent, the test runner, is gone. A SIGKILLed runner cannot pass a
 *   signal on, and the orphan would run on to its test's end; its own exit takes its tied children.
 */
import { tieChildrenToThisProcess } from '@recipe-mesh/measure/tie';

tieChildrenToThisProcess();
const parent = process.ppid;
setInterval(() => {
  if (process.ppid === parent) return;
  process.stderr.write(`test process ${process.pid}: its parent ${parent} is gone; exiting\n`);
  process.exit(1);
}, 250).unref();
