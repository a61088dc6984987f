/**
 * One deadline per request, end to end (docs/experiments.md, "timeout-budget"). The hop in front
 * of web-api says how long the caller will wait; web-api's calls to recipe-api end by then, tell
 * web-api's sidecar how much is left, and retry only while another try still fits.
 *
 * Both headers are Envoy's (envoyproxy.io, "HTTP router filter", headers consumed/set):
 * - the router sets `x-envoy-expected-rq-timeout-ms` on the request it forwards to the route's
 *   timeout, "so that the upstream host … can make decisions based on the request timeout" — an
 *   Istio ingress gateway whose VirtualService route has `timeout: 1s` sends 1000;
 * - `x-envoy-upstream-rq-timeout-ms` on a request replaces the route timeout of the Envoy that
 *   receives it (Istio's sidecar too), so its retries and per-try timeouts stay inside the budget.
 */
export const callerBudgetHeader = 'x-envoy-expected-rq-timeout-ms';
export const upstreamTimeoutHeader = 'x-envoy-upstream-rq-timeout-ms';

/** The caller's budget in ms from the header, or undefined when absent or not a positive integer. */
export function parseBudgetMs(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,9}$/.test(value.trim())) return undefined;
  const ms = Number(value.trim());
  return ms > 0 ? ms : undefined;
}

/**
 * When web-api must have answered (epoch ms): the caller's budget from the request's arrival,
 * less `reserveMs` for the answer to travel back through the sidecar and the ingress.
 */
export function callerDeadline(receivedAtMs: number, budgetMs: number | undefined, reserveMs: number) {
  return budgetMs === undefined ? undefined : receivedAtMs + Math.max(0, budgetMs - reserveMs);
}

/** The deadline of one call: web-api's own timeout, or the caller's deadline when that is sooner. */
export function callDeadline(nowMs: number, ownTimeoutMs: number, callerDeadlineMs: number | undefined): number {
  return Math.min(nowMs + ownTimeoutMs, callerDeadlineMs ?? Number.POSITIVE_INFINITY);
}

/** What web-api's sidecar is told: the time left, at least 1 ms (0 would mean "no timeout" to Envoy). */
export function deadlineHeaders(deadlineMs: number, nowMs = Date.now()): Record<string, string> {
  return { [upstreamTimeoutHeader]: String(Math.max(1, Math.floor(deadlineMs - nowMs))) };
}
