import { parseArgs } from 'node:util';
import { startTraceSink } from './sink-server.js';

/** Entry point the lab starts as a process: `sink-main.ts --port 4318 --file .lab/traces/spans.ndjson`. */
const { values } = parseArgs({
  options: { port: { type: 'string' }, file: { type: 'string' }, host: { type: 'string' } },
});
if (!values.port || !values.file) {
  console.error('usage: sink-main --port <port> --file <spans.ndjson> [--host 127.0.0.1]');
  process.exit(2);
}
const host = values.host ?? '127.0.0.1';
const sink = await startTraceSink({ port: Number(values.port), file: values.file, host });
console.log(JSON.stringify({ msg: 'trace sink listening', port: sink.port, file: values.file }));
const stop = () => void sink.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
