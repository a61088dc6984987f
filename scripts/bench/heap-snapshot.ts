/**
 * What a V8 heap snapshot (`--heapsnapshot-signal`, DevTools' Memory tab) holds, as a table: self
 * size summed per constructor or string/code kind, largest first. A snapshot is taken after a full
 * GC, so this is what survives, not what awaits collection. Format: `snapshot.meta.node_fields`
 * names each node's fields in the flat `nodes` array; `type` and `name` index into lookup tables.
 */

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] }; node_count: number };
  nodes: number[];
  strings: string[];
}

export interface HeapSummary {
  totalMiB: number;
  byName: { name: string; count: number; selfMiB: number }[];
}

export function summarizeHeapSnapshot(snapshot: HeapSnapshot): HeapSummary {
  const fields = snapshot.snapshot.meta.node_fields;
  const stride = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const types = snapshot.snapshot.meta.node_types[0];
  const groups = new Map<string, { count: number; bytes: number }>();
  let total = 0;
  for (let i = 0; i < snapshot.nodes.length; i += stride) {
    const type = types[snapshot.nodes[i + typeAt]!]!;
    const size = snapshot.nodes[i + sizeAt]!;
    total += size;
    // Objects and closures by constructor; strings, arrays, code and the rest by kind.
    const key =
      type === 'object' || type === 'closure' || type === 'native'
        ? `${type} ${snapshot.strings[snapshot.nodes[i + nameAt]!]}`
        : `(${type})`;
    const group = groups.get(key) ?? { count: 0, bytes: 0 };
    group.count++;
    group.bytes += size;
    groups.set(key, group);
  }
  return {
    totalMiB: total / 2 ** 20,
    byName: [...groups]
      .map(([name, g]) => ({ name, count: g.count, selfMiB: g.bytes / 2 ** 20 }))
      .sort((a, b) => b.selfMiB - a.selfMiB),
  };
}
