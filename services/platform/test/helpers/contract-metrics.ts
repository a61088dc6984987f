import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './service-process.js';

/**
 * Metric names listed in docs/contracts.md ("Metrics" table, including the prom-client defaults
 * row), read from the document itself so the tests follow the contract rather than a copy of it.
 */
export function contractMetricNames(): string[] {
  const doc = readFileSync(path.join(repoRoot, 'docs/contracts.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Metrics'), doc.indexOf('\n## ', doc.indexOf('## Metrics') + 1));
  const names = new Set<string>();
  for (const row of section.split('\n').filter((l) => l.startsWith('| '))) {
    const cells = row.split('|').map((c) => c.trim());
    const first = /^`([a-z_:][a-z0-9_:]*)`$/.exec(cells[1] ?? '');
    if (first) names.add(first[1]!);
    // The defaults row lists its names in the labels column.
    if ((cells[1] ?? '').startsWith('prom-client defaults')) {
      for (const m of (cells[3] ?? '').matchAll(/`([a-z_:][a-z0-9_:]*)`/g)) if (m[1]!.includes('_')) names.add(m[1]!); // not label names
    }
  }
  return [...names];
}
