import { floors, type Sample, slopePerMinute } from './slope.js';

/**
 * What the soak judges (docs/reliability.md, "Soak"): per service, the growth per minute of each
 * resource's floor after warm-up, against a stated bound.
 */
export const resources = [
  'process_resident_memory_bytes',
  'nodejs_heap_size_used_bytes',
  'process_open_fds',
  'nodejs_active_handles_total',
] as const;
export type Resource = (typeof resources)[number];

const MiB = 1024 * 1024;

/**
 * Growth per minute of the floor beyond which a service fails the soak. Calibrated on this 2-core
 * machine (docs/benchmarks.md, "Soak"): a healthy build's floors move by a fraction of these, the
 * export leak (`streamCleanup: false`) grows well past them within a few minutes.
 */
export const bounds: Record<Resource, number> = {
  process_resident_memory_bytes: 6 * MiB,
  nodejs_heap_size_used_bytes: 4 * MiB,
  process_open_fds: 1,
  nodejs_active_handles_total: 1,
};

/**
 * Spans the post-warm-up samples are cut into, one floor each: spans of at least a minute (objects
 * promoted to the old generation stay in the heap until the next major GC, tens of seconds apart
 * under this load, so shorter spans see that climb as growth), between 3 and 8 of them.
 */
export function floorWindows(judgedMs: number): number {
  return Math.min(8, Math.max(3, Math.floor(judgedMs / 60_000)));
}

/** Warm-up left out of the judgement: JIT, heap growth to its working size, connection pools filling. */
export function warmUpMs(durationMs: number): number {
  return Math.max(30_000, durationMs / 5);
}

export interface Judgement {
  service: string;
  resource: Resource;
  /** Growth of the floor per minute after warm-up. */
  slope: number;
  bound: number;
  /** First and last floor after warm-up. */
  from: number;
  to: number;
  ok: boolean;
}

export function judge(series: Record<string, Record<Resource, Sample[]>>, afterMs: number): Judgement[] {
  return Object.entries(series).flatMap(([service, byResource]) =>
    resources.map((resource) => {
      const judged = byResource[resource].filter((p) => p.atMs >= afterMs);
      const lows = floors(judged, floorWindows((judged.at(-1)?.atMs ?? afterMs) - afterMs));
      const slope = slopePerMinute(lows);
      return {
        service,
        resource,
        slope,
        bound: bounds[resource],
        from: lows[0]?.value ?? Number.NaN,
        to: lows.at(-1)?.value ?? Number.NaN,
        ok: lows.length >= 2 && slope <= bounds[resource],
      };
    }),
  );
}

export const formatBytes = (bytes: number) => `${(bytes / MiB).toFixed(2)} MiB`;

/** A value in the resource's unit: MiB for bytes, plain counts otherwise. */
export function formatResource(resource: Resource, value: number): string {
  return resource.endsWith('_bytes') ? formatBytes(value) : value.toFixed(2);
}
