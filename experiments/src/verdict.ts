import type { Experiment, JudgeInput, Signal, Verdict } from './definition.js';

/**
 * The one way a run gets its verdict, on either target (docs/experiments.md, "Signals"): a
 * required signal without data makes the run inconclusive, naming the signal; otherwise the
 * experiment's own `judge` decides on the values.
 */

export interface SignalEntry {
  key: string;
  signal: Signal;
  required: boolean;
}

type WithSignals = Pick<Experiment<unknown, string, string>, 'signals'>;
/** Readings as a target hands them over: a number, null (read, no data) or absent (not read). */
type Readings = Readonly<Partial<Record<string, number | null>>>;

/** Every signal of an experiment, required ones first, in declaration order. */
export function signalEntries(experiment: WithSignals): SignalEntry[] {
  return [
    ...Object.entries(experiment.signals.required).map(([key, signal]) => ({ key, signal, required: true })),
    ...Object.entries(experiment.signals.optional).map(([key, signal]) => ({ key, signal, required: false })),
  ];
}

const hasData = (value: number | null | undefined): value is number =>
  typeof value === 'number' && !Number.isNaN(value);

/** The required signals that have no number in `values`, by title. */
export function missingSignals(experiment: WithSignals, values: Readings): string[] {
  return Object.entries(experiment.signals.required)
    .filter(([key]) => !hasData(values[key]))
    .map(([, signal]) => signal.title);
}

export function decide(
  experiment: Pick<Experiment<unknown, string, string>, 'signals' | 'judge'>,
  values: Readings,
): Verdict {
  const missing = missingSignals(experiment, values);
  if (missing.length) return { outcome: 'inconclusive', reasons: missing.map((title) => `no data for ${title}`) };
  return experiment.judge(values as JudgeInput);
}

/** The values as the report shows them: every signal, in order, with its title and unit. */
export function signalTable(
  experiment: WithSignals,
  values: Readings,
): { key: string; title: string; unit: string; required: boolean; value: number | null }[] {
  return signalEntries(experiment).map(({ key, signal, required }) => ({
    key,
    title: signal.title,
    unit: signal.unit,
    required,
    value: hasData(values[key]) ? values[key] : null,
  }));
}
