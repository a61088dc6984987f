import type { Experiment, Verdict } from './definition.js';

/** One signal `--target k8s` asks Prometheus for: its name and its PromQL template. */
export interface K8sSignalQuery {
  name: string;
  /** With `$namespace` and `$window` still to fill (targets/k8s.ts `fillQuery`). */
  promql: string;
}

/**
 * Everything the k8s target reads of an experiment's signals and verdict, in one function: the
 * PromQL templates it runs and the rule that judges their values. The plan, the run and the
 * report all go through it, so a change in how experiments declare signals or judge them
 * (docs/experiments.md, "Adding an experiment") touches only this function.
 */
export function k8sSignals(experiment: Experiment<unknown>): {
  queries: K8sSignalQuery[];
  judge(values: Record<string, number | null>): Verdict;
} {
  return {
    queries: experiment.signals.flatMap((s) => (s.promql ? [{ name: s.name, promql: s.promql }] : [])),
    judge: (values) => experiment.k8sJudge(values),
  };
}
