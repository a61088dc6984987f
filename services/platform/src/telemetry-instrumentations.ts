import type { Instrumentation } from '@opentelemetry/instrumentation';

/**
 * Builds the instrumentations that OTEL_NODE_DISABLED_INSTRUMENTATIONS does not name. The variable
 * is read as @opentelemetry/auto-instrumentations-node reads it: a comma-separated list of names
 * without the `@opentelemetry/instrumentation-` prefix (`express,grpc`). Operators switch one off
 * without a rebuild, and a benchmark can price each one (`scripts/bench/profile.ts --env`,
 * docs/benchmarks.md). A disabled one is never constructed: construction is what patches a module.
 */
export function createEnabled(
  factories: Record<string, () => Instrumentation>,
  disabled: string | undefined,
): Instrumentation[] {
  const names = new Set(
    (disabled ?? '')
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean),
  );
  return Object.entries(factories)
    .filter(([name]) => !names.has(name))
    .map(([, create]) => create());
}
