import type { Instrumentation } from '@opentelemetry/instrumentation';

const namePrefix = '@opentelemetry/instrumentation-';

/**
 * The instrumentations left after OTEL_NODE_DISABLED_INSTRUMENTATIONS, read as
 * @opentelemetry/auto-instrumentations-node reads it: a comma-separated list of names without the
 * `@opentelemetry/instrumentation-` prefix (`http,express`). Operators switch one off without a
 * rebuild, and a benchmark can price each one (`scripts/bench/profile.ts --env`, docs/benchmarks.md).
 */
export function withoutDisabled(instrumentations: Instrumentation[], disabled: string | undefined): Instrumentation[] {
  const names = new Set(
    (disabled ?? '')
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean),
  );
  return instrumentations.filter((instrumentation) => {
    const name = instrumentation.instrumentationName;
    return !names.has(name.startsWith(namePrefix) ? name.slice(namePrefix.length) : name);
  });
}
