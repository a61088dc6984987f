import type { ProbeTiming } from '../workloads/manifests.js';

/**
 * One container's readiness as the kubelet keeps it (kubernetes/kubernetes
 * pkg/kubelet/prober/worker.go, doProbe): not ready until a probe passes; a result changes the
 * state only after `successThreshold` (or `failureThreshold`) equal results in a row; the first
 * probe runs `initialDelay` after the start, then one every `period`, each given `timeout`.
 */
export interface ProbeState {
  ready: boolean;
  lastResult: boolean | null;
  /** Equal results in a row, ending with `lastResult`. */
  run: number;
  /** When the next probe is due (ms since the epoch). */
  dueAt: number;
}

export function initialProbeState(startedAt: number, timing: ProbeTiming): ProbeState {
  return { ready: false, lastResult: null, run: 0, dueAt: startedAt + timing.initialDelayMs };
}

/** The state after one probe result at `at`. */
export function afterProbe(state: ProbeState, passed: boolean, at: number, timing: ProbeTiming): ProbeState {
  const run = state.lastResult === passed ? state.run + 1 : 1;
  let ready = state.ready;
  if (passed && run >= timing.successThreshold) ready = true;
  if (!passed && run >= timing.failureThreshold) ready = false;
  return { ready, lastResult: passed, run, dueAt: at + timing.periodMs };
}

/** An HTTP probe: any status from 200 to 399 within the timeout passes (the kubelet's httpGet rule). */
export async function httpProbe(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await res.arrayBuffer();
    return res.status >= 200 && res.status < 400;
  } catch {
    return false;
  }
}
