import { readFileSync } from 'node:fs';

/** CPU seconds and peak resident memory of one process over one benchmark row. */
export interface ProcessUsage {
  cpuSeconds: number;
  peakRssMiB: number;
}

// USER_HZ: /proc/<pid>/stat counts CPU time in clock ticks, 100 per second on Linux.
const ticksPerSecond = 100;

function cpuTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields resume after the command name's last ')'; utime and stime are fields 14 and 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return null;
  }
}

/**
 * CPU seconds of this process's children that have exited and been reaped (cutime and cstime,
 * fields 16 and 17 of /proc/self/stat): a load tool run as a child to completion, whose own /proc
 * entry is gone by the time its row ends. 0 off Linux.
 */
export function childrenCpuSeconds(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[13]) + Number(rest[14])) / ticksPerSecond;
  } catch {
    return 0;
  }
}

function rssKiB(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Samples the resident set of each named process every 100 ms while a row runs (VmHWM would be
 * the peak since the process started, not within this row) and reads CPU time at both ends.
 * Off Linux every figure is 0.
 */
export function watchProcesses(pids: Record<string, number>): { stop(): Record<string, ProcessUsage> } {
  const startTicks = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuTicks(pid)]));
  const peakKiB: Record<string, number> = Object.fromEntries(Object.keys(pids).map((name) => [name, 0]));
  const sample = () => {
    for (const [name, pid] of Object.entries(pids)) peakKiB[name] = Math.max(peakKiB[name]!, rssKiB(pid) ?? 0);
  };
  sample();
  const timer = setInterval(sample, 100);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return Object.fromEntries(
        Object.entries(pids).map(([name, pid]) => {
          const before = startTicks[name];
          const after = cpuTicks(pid);
          const cpuSeconds = before != null && after != null ? (after - before) / ticksPerSecond : 0;
          return [name, { cpuSeconds, peakRssMiB: Math.round(peakKiB[name]! / 1024) }];
        }),
      );
    },
  };
}
