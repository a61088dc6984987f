import { readdirSync, readFileSync } from 'node:fs';

/** Where a process' resident memory sits, from /proc/<pid>/smaps (Linux only). */
export interface ResidentMemory {
  rssMiB: number;
  /** Pages backed by a file: the node binary's text and data, shared libraries. */
  fileMiB: number;
  nodeBinaryMiB: number;
  /** Anonymous pages: the V8 heap, malloc's arenas and brk heap, thread stacks, JIT code. */
  anonymousMiB: number;
  /** Of the anonymous pages, the brk heap (`[heap]`): malloc's main arena. */
  brkHeapMiB: number;
  /** Thread names and how many of each (`node`, `libuv-worker`, `V8 Worker`, …). */
  threads: Record<string, number>;
}

const mib = (kib: number) => Math.round(kib / 102.4) / 10;

/** Reads /proc/<pid>/smaps and /proc/<pid>/task; `executable` is the node binary's path. */
export function residentMemoryBreakdown(pid: number, executable: string): ResidentMemory {
  let file = 0;
  let nodeBinary = 0;
  let anonymous = 0;
  let brkHeap = 0;
  let pathname = '';
  // A mapping's header line ("start-end perms offset dev inode [pathname]") precedes its fields.
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (header) {
      pathname = header[1]!;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (!rss) continue;
    const kib = Number(rss[1]);
    if (pathname.startsWith('/')) {
      file += kib;
      if (pathname === executable) nodeBinary += kib;
    } else {
      anonymous += kib;
      if (pathname === '[heap]') brkHeap += kib;
    }
  }
  const threads: Record<string, number> = {};
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const name = readFileSync(`/proc/${pid}/task/${task}/comm`, 'utf8').trim();
    threads[name] = (threads[name] ?? 0) + 1;
  }
  return {
    rssMiB: mib(file + anonymous),
    fileMiB: mib(file),
    nodeBinaryMiB: mib(nodeBinary),
    anonymousMiB: mib(anonymous),
    brkHeapMiB: mib(brkHeap),
    threads,
  };
}

export function formatResidentMemory(m: ResidentMemory): string {
  const threads = Object.entries(m.threads)
    .map(([name, n]) => `${name}${n > 1 ? ` ×${n}` : ''}`)
    .join(', ');
  return `smaps ${m.rssMiB} MiB: file-backed ${m.fileMiB} (node binary ${m.nodeBinaryMiB}), anonymous ${m.anonymousMiB} (brk heap ${m.brkHeapMiB}); threads: ${threads}`;
}
