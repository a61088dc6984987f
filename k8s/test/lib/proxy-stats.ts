import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pins } from '../../kube/versions.js';
import { readIstioOperator } from './istio-install.js';

/**
 * The Envoy stats an Istio sidecar exports, from `meshConfig.defaultConfig.proxyStatsMatcher`
 * in istio/install/istio-operator.yaml, as Istio turns it into the bootstrap's stats matcher:
 * istio/istio pkg/bootstrap/config.go appends its required prefixes (cluster_manager,
 * listener_manager, server, cluster.xds-grpc, wasm), suffixes (the rbac ones) and regex
 * (`vhost\..*\.route\..*`) to the configured ones, and tools/packaging/common/envoy_bootstrap.json
 * adds `reporter=` (Istio's standard metrics), `component` and `istio`. Everything else is not
 * created at all, in /stats/prometheus or in the admin /stats.
 */

export interface ProxyStatsMatcher {
  inclusionPrefixes?: string[];
  inclusionSuffixes?: string[];
  inclusionRegexps?: string[];
}

export function installedStatsMatcher(): ProxyStatsMatcher {
  return readIstioOperator().spec?.meshConfig?.defaultConfig?.proxyStatsMatcher ?? {};
}

const required = {
  prefixes: ['cluster_manager', 'listener_manager', 'server', 'cluster.xds-grpc', 'wasm'],
  suffixes: ['rbac.allowed', 'rbac.denied', 'shadow_allowed', 'shadow_denied'],
  regexps: [String.raw`vhost\..*\.route\..*`],
};

/** Envoy's `stats_config.stats_matcher` as Istio's bootstrap writes it for `matcher`. */
export function bootstrapStatsMatcher(matcher: ProxyStatsMatcher): {
  inclusion_list: { patterns: Array<{ prefix: string } | { suffix: string } | { safe_regex: { regex: string } }> };
} {
  return {
    inclusion_list: {
      patterns: [
        { prefix: 'reporter=' },
        ...[...(matcher.inclusionPrefixes ?? []), ...required.prefixes].map((prefix) => ({ prefix })),
        ...[...(matcher.inclusionSuffixes ?? []), ...required.suffixes].map((suffix) => ({ suffix })),
        ...[...(matcher.inclusionRegexps ?? []), ...required.regexps].map((regex) => ({ safe_regex: { regex } })),
        { prefix: 'component' },
        { prefix: 'istio' },
      ],
    },
  };
}

/** The configured entries (not Istio's required ones) that let `stat` through. */
export function matchingEntries(matcher: ProxyStatsMatcher, stat: string): string[] {
  return [
    ...(matcher.inclusionPrefixes ?? []).filter((p) => stat.startsWith(p)).map((p) => `prefix ${p}`),
    ...(matcher.inclusionSuffixes ?? []).filter((s) => stat.endsWith(s)).map((s) => `suffix ${s}`),
    // Envoy's safe_regex (RE2) must match the whole name.
    ...(matcher.inclusionRegexps ?? []).filter((r) => new RegExp(`^(?:${r})$`).test(stat)).map((r) => `regex ${r}`),
  ];
}

/** Whether a sidecar created with `matcher` exports `stat` (Istio's required patterns included). */
export function exports(matcher: ProxyStatsMatcher, stat: string): boolean {
  const all: ProxyStatsMatcher = {
    inclusionPrefixes: [...(matcher.inclusionPrefixes ?? []), ...required.prefixes, 'reporter=', 'component', 'istio'],
    inclusionSuffixes: [...(matcher.inclusionSuffixes ?? []), ...required.suffixes],
    inclusionRegexps: [...(matcher.inclusionRegexps ?? []), ...required.regexps],
  };
  return matchingEntries(all, stat).length > 0;
}

/**
 * The stats tags of Istio's sidecar bootstrap, read from the pinned istio.io/istio source
 * (tools/packaging/common/envoy_bootstrap.json in the Go module cache, where `npm run kube --
 * build` fetched it), without the entries the template fills per proxy (`{{ $tag }}`). null when
 * that source is not on this machine.
 */
export function istioBootstrapStatsTags(): Array<{ tag_name: string; regex: string }> | null {
  const modcache = spawnSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' }).stdout?.trim();
  const file =
    modcache && path.join(modcache, `istio.io/istio@${pins.istio}`, 'tools/packaging/common/envoy_bootstrap.json');
  if (!file || !existsSync(file)) return null;
  const text = readFileSync(file, 'utf8');
  const tags = text.slice(text.indexOf('"stats_tags"'), text.indexOf('"stats_matcher"'));
  return [
    ...tags.matchAll(
      /\{\s*"(tag_name|regex)":\s*("(?:[^"\\]|\\.)*"),\s*"(tag_name|regex)":\s*("(?:[^"\\]|\\.)*")\s*\}/g,
    ),
  ]
    .map((m) => ({ [m[1]!]: JSON.parse(m[2]!), [m[3]!]: JSON.parse(m[4]!) }) as { tag_name: string; regex: string })
    .filter((t) => !t.tag_name.includes('{{'));
}

/** Istio names a cluster's stats `cluster.<name>;.<stat>` (alt_stat_name, pilot/pkg/networking/util DelimitedStatsPrefix). */
export const statPrefixDelimiter = ';';
