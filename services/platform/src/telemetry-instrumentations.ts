import type { InstrumentationConfigMap } from '@opentelemetry/auto-instrumentations-node';

/** What the services use, by the package's names (`@opentelemetry/instrumentation-<name>`). */
export type UsedInstrumentations = InstrumentationConfigMap;

/**
 * The configuration for @opentelemetry/auto-instrumentations-node's `getNodeAutoInstrumentations`
 * that builds only the instrumentations named in `used`, with their options. The package builds
 * every instrumentation it knows unless a configuration says `enabled: false`, so every name
 * `used` leaves out reads as disabled, including those a later version of the package adds; the
 * listed ones carry no `enabled`, so the package's variables still choose among them:
 * OTEL_NODE_ENABLED_INSTRUMENTATIONS (only these, e.g. `http,express`) and
 * OTEL_NODE_DISABLED_INSTRUMENTATIONS (all but these). A disabled instrumentation is never
 * constructed, and constructing one is what patches its module.
 *
 * A Proxy rather than a list of the package's ~40 names: the package reads one entry per name it
 * knows (`inputConfigs[name]`) and checks only the keys given (`Object.keys`) against its map
 * (metapackages/auto-instrumentations-node/src/utils.ts in opentelemetry-js-contrib).
 */
export function onlyThese(used: UsedInstrumentations): InstrumentationConfigMap {
  const disabled = { enabled: false };
  return new Proxy(used, {
    get: (target, name) =>
      typeof name === 'string' && Object.hasOwn(target, name)
        ? target[name as keyof InstrumentationConfigMap]
        : disabled,
  });
}
