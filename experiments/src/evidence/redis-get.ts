import { histogramCount, histogramDelta, histogramQuantile, type Scrape } from '@recipe-mesh/measure/metric-text';
import type { Signal } from '../definition.js';
import { serviceSeries } from '../promql.js';
import type { TraceSpan } from './trace.js';

/**
 * recipe-api's Redis GETs as the experiments that judge them read them (redis-scan-latency,
 * event-loop-block): the app-side histogram between two scrapes, the same quantile in PromQL, and
 * the ioredis `get` spans. All three are measured inside Node, so they include any time the reply
 * waited for recipe-api's event loop.
 */

/** p99 and count of `redis_command_duration_seconds{command="get"}` between two scrapes. */
export function redisGetP99(before: Scrape, after: Scrape): { p99: number | null; count: number } {
  const buckets = histogramDelta(before, after, 'redis_command_duration_seconds', { command: 'get' });
  return { p99: histogramQuantile(0.99, buckets), count: histogramCount(buckets) };
}

/** The phase with the lower p99 (null p99s lose): the baseline of two quiet phases. */
export const quieter = <T extends { p99: number | null }>(a: T, b: T): T =>
  (a.p99 ?? Number.POSITIVE_INFINITY) <= (b.p99 ?? Number.POSITIVE_INFINITY) ? a : b;

/** `offset` is '' for the run's window or ' offset $window' for the window before it. */
export const redisGetP99Query = (offset: string) =>
  `histogram_quantile(0.99, sum by (le) (rate(redis_command_duration_seconds_bucket{${serviceSeries('recipe-api')},command="get"}[$window]${offset})))`;
export const redisGetCountQuery = (offset: string) =>
  `sum(increase(redis_command_duration_seconds_count{${serviceSeries('recipe-api')},command="get"}[$window]${offset}))`;

/** recipe-api's ioredis `get` spans. */
export const redisGetSpans = (traces: TraceSpan[][]) =>
  traces.flat().filter((s) => s.service === 'recipe-api' && s.name.toLowerCase() === 'get');

/** The optional signal of the ioredis `get` span p99 (traces: the lab's sink, Tempo on k8s). */
export const redisGetSpanSignal = (title: string): Signal => ({
  title,
  unit: 'ms',
  lab: '.lab/traces/spans.ndjson, recipe-api spans named get',
  labSource: { kind: 'traces' },
  k8s: 'Tempo: { resource.service.name = "recipe-api" && name = "get" } | quantile_over_time(duration, .99)',
});
