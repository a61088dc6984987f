/**
 * One deadline per request, end to end (docs/experiments.md, "timeout-budget"). The caller, or
 * the edge on its behalf, says how long it will wait; web-api's calls to recipe-api end by then,
 * tell web-api's sidecar how much is left, and retry only while another try still fits.
 *
 * - `x-request-timeout-ms`: the caller's budget in ms. The ingress gateway's VirtualService sets
 *   it next to its route `timeout` (istio/faults/timeout-budget-edge). An application header on
 *   purpose: Envoy's own `x-envoy-expected-rq-timeout-ms` is stripped by the next sidecar from
 *   requests it does not count as internal (every request, with Envoy's explicit internal
 *   address config), so it does not reliably cross the gateway → sidecar hop.
 * - `x-envoy-upstream-rq-timeout-ms`: Envoy's per-request override of the route timeout (Istio
 *   documents it for apps' outbound calls), so the sidecar's retries and per-try timeouts stay
 *   inside the time left, where the sidecar honours it.
 */
export const callerBudgetHeader = 'x-request-timeout-ms';
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
