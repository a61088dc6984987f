import type { LoadResult } from '@recipe-mesh/lab/load/load';
import type { PhaseLoad } from '../definition.js';
import { summarizeLatency } from '../evidence/latency.js';
import { activeRecorder } from '../recording.js';
import { countRecords, type RequestRecord } from './http.js';

/** A load phase as the report shows it, from this package's request records. */
export function phaseFromRecords(phase: string, records: readonly RequestRecord[]): PhaseLoad {
  activeRecorder()?.phase(
    phase,
    records.map((r) => ({
      source: r,
      request: { ...r, outcome: `${r.status} ${r.flags.length ? r.flags.join(',') : '-'}` },
    })),
  );
  return {
    phase,
    requests: records.length,
    byStatusFlag: countRecords(records),
    latencyMs: summarizeLatency(records.filter((r) => r.status > 0).map((r) => r.latencyMs)),
  };
}

/** A load phase from the lab's autocannon load (lab/src/load/load.ts). */
export function phaseFromLabLoad(phase: string, result: LoadResult): PhaseLoad {
  activeRecorder()?.phase(
    phase,
    result.records.map((r) => ({
      source: r,
      request: { ...r, outcome: `${r.status} ${r.responseFlags && r.responseFlags !== '' ? r.responseFlags : '-'}` },
    })),
  );
  const byStatusFlag: Record<string, number> = {};
  for (const r of result.records) {
    const flags = r.responseFlags && r.responseFlags !== '' ? r.responseFlags : '-';
    const key = `${r.status} ${flags}`;
    byStatusFlag[key] = (byStatusFlag[key] ?? 0) + 1;
  }
  return {
    phase,
    requests: result.records.length,
    byStatusFlag,
    latencyMs: summarizeLatency(result.records.filter((r) => r.status > 0).map((r) => r.latencyMs)),
  };
}
