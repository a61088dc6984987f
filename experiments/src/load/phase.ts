import { countOutcomes, outcomeKey } from '@recipe-mesh/measure/outcomes';
import { summarizeLatency } from '@recipe-mesh/measure/latency';
import type { RequestRecord } from '@recipe-mesh/measure/requests';
import type { PhaseLoad } from '../definition.js';
import { activeRecorder } from '../recording.js';

/** A load phase as the report shows it, from any load generator's request records. */
export function phaseFromRecords(phase: string, records: readonly RequestRecord[]): PhaseLoad {
  activeRecorder()?.phase(
    phase,
    records.map((r) => ({
      source: r,
      request: { ...r, outcome: outcomeKey(r.status, r.flags) },
    })),
  );
  return {
    phase,
    requests: records.length,
    byStatusFlag: countOutcomes(records),
    latencyMs: summarizeLatency(records.filter((r) => r.status > 0).map((r) => r.latencyMs)),
  };
}
