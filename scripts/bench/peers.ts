/**
 * The peers P0 and P1: what a user gets by following OpenTelemetry's getting-started page for
 * Node instead of using this platform. Zero-code instrumentation, every default
 * (opentelemetry.io/docs/zero-code/js: `--require @opentelemetry/auto-instrumentations-node/register`
 * and `OTEL_*` variables; `--import` loads the same CommonJS module before the ESM floor), OTLP to
 * the lab's trace sink as the services export, and only a service name set.
 */
export function peerTelemetry(traceSinkUrl: string) {
  return (key: string) => ({
    nodeFlags: ['--import', '@opentelemetry/auto-instrumentations-node/register'],
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: traceSinkUrl, OTEL_SERVICE_NAME: `peer-${key.toLowerCase()}` },
  });
}
