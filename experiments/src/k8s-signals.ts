import type { Experiment, Verdict } from './definition.js';
import { decide, signalEntries } from './verdict.js';

/** One signal `--target k8s` asks Prometheus for. */
export interface K8sSignalQuery {
  /** The signal's key: the verdict reads the value under it. */
  key: string;
  title: string;
  /** With `$namespace` and `$window` still to fill (targets/k8s.ts `fillQuery`). */
  promql: string;
}

/**
 * Everything the k8s target reads of an experiment's signals and verdict, in one function: the
 * PromQL of each signal that has one and the verdict on their values (verdict.ts `decide`, the
 * same rule as on the lab: a required signal without data is inconclusive). The plan, the run
 * and the report all go through it.
 */
export function k8sSignals(experiment: Experiment<unknown>): {
  queries: K8sSignalQuery[];
  judge(values: Record<string, number | null>): Verdict;
} {
  return {
    queries: signalEntries(experiment).flatMap(({ key, signal }) =>
      signal.promql ? [{ key, title: signal.title, promql: signal.promql }] : [],
    ),
    judge: (values) => decide(experiment, values),
  };
}
