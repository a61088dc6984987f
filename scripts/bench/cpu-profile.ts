/**
 * Self time of a V8 CPU profile (`node --cpu-prof`'s .cpuprofile: a call tree of nodes, and one
 * sampled node id per tick with the time since the previous tick), summed per function and per
 * package, largest first: the top of a flame graph read as a table.
 */

export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }[];
  samples: number[];
  timeDeltas: number[];
  /** Microseconds on the machine's monotonic clock (CLOCK_MONOTONIC on Linux, as `process.hrtime`). */
  startTime?: number;
}

/** A span of the monotonic clock in microseconds: `process.hrtime.bigint() / 1000n` of any process. */
export interface ProfileWindow {
  fromUs: number;
  toUs: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Sampled time minus `(idle)`: the CPU the process used. */
  busyMs: number;
  byFunction: { name: string; selfMs: number }[];
  byPackage: { name: string; selfMs: number }[];
}

/** `node_modules/@scope/pkg/...` → `@scope/pkg`; `node:internal/...` → `node:internal`; V8's own entries by name. */
export function packageOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : `(${functionName || 'anonymous'})`;
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1]!;
  if (url.startsWith('node:')) return url.split('/')[0]!;
  const workspace = /\/(services\/[^/]+|lab|measure|experiments)\//.exec(url);
  return workspace ? workspace[1]! : url;
}

/**
 * With a window, only the samples taken inside it count: a profile of a whole process run holds
 * its start-up (module loading, seeding), which is not what a row's load costs.
 */
export function summarizeProfile(profile: CpuProfile, window?: ProfileWindow): ProfileSummary {
  const selfUs = new Map<number, number>();
  let at = profile.startTime ?? 0;
  // timeDeltas[i] is the time before sample i; charging it to sample i is what DevTools does.
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (window && (at < window.fromUs || at > window.toUs)) return;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });
  const functions = new Map<string, number>();
  const packages = new Map<string, number>();
  let totalUs = 0;
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    if (us === 0) continue;
    totalUs += us;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url
      ? ` ${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(services|lab|measure)\//, '$1/')}:${lineNumber + 1}`
      : '';
    const fn = `${functionName || '(anonymous)'}${where}`;
    functions.set(fn, (functions.get(fn) ?? 0) + us);
    const pkg = packageOf(url, functionName);
    packages.set(pkg, (packages.get(pkg) ?? 0) + us);
  }
  const sorted = (m: Map<string, number>) =>
    [...m].map(([name, us]) => ({ name, selfMs: us / 1000 })).sort((a, b) => b.selfMs - a.selfMs);
  const idleUs = functions.get('(idle)') ?? 0;
  functions.delete('(idle)');
  packages.delete('(idle)');
  return {
    totalMs: totalUs / 1000,
    busyMs: (totalUs - idleUs) / 1000,
    byFunction: sorted(functions),
    byPackage: sorted(packages),
  };
}
