import { appendFile } from 'node:fs/promises';
import { type OtlpReceiver, startOtlpReceiver } from '@recipe-mesh/measure/otlp-receiver';
import { toStoredSpan } from '@recipe-mesh/measure/stored-span';

export interface TraceSinkOptions {
  port: number;
  host?: string;
  /** NDJSON file every received span is appended to. */
  file: string;
}

/**
 * The lab's trace sink: the measurement layer's OTLP receiver (measure/src/otlp-receiver.ts)
 * appending every span to an NDJSON file, enough collector for one machine with no collector
 * binary to install. Spans are not kept in memory: `npm run lab -- trace` reads the file.
 */
export function startTraceSink(options: TraceSinkOptions): Promise<OtlpReceiver> {
  // Appends are chained so lines from concurrent exports never interleave.
  let writes: Promise<void> = Promise.resolve();
  return startOtlpReceiver({
    port: options.port,
    host: options.host ?? '127.0.0.1',
    keep: false,
    onSpans(spans) {
      if (spans.length === 0) return writes;
      const text = `${spans.map((s) => JSON.stringify(toStoredSpan(s))).join('\n')}\n`;
      writes = writes.then(() => appendFile(options.file, text));
      return writes;
    },
  });
}
