import { parseArgs } from 'node:util';
import { runEndpointController } from './controller.js';

/** `node controller-main.ts --state-dir <dir>`: the lab's endpoint controller process (controller.ts). */
const { values } = parseArgs({ options: { 'state-dir': { type: 'string' } } });
const stateDir = values['state-dir'];
if (!stateDir) {
  console.error('usage: controller-main.ts --state-dir <lab state dir>');
  process.exit(2);
}
const stop = new AbortController();
process.on('SIGTERM', () => stop.abort());
await runEndpointController({ stateDir, log: (line) => console.log(line), signal: stop.signal });
