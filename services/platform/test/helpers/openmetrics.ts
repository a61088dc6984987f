import { execFile } from 'node:child_process';

/**
 * A strict-enough OpenMetrics 1.0 text parser for tests: every line must be a `# HELP|TYPE|UNIT`
 * descriptor, a sample (`name{labels} value [timestamp] [# {exemplar labels} value [timestamp]]`)
 * or the final `# EOF`; anything else throws with the line number. It keeps families (by the name
 * in TYPE, e.g. `cache_lookups` for the `cache_lookups_total` counter samples) and exemplars.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  exemplar?: { labels: Record<string, string>; value: number; timestamp?: number };
}
export interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const labelSet = String.raw`\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\}`;
const number = String.raw`[-+]?(?:[0-9.]+(?:[eE][-+]?[0-9]+)?|Inf|NaN)`;
const sampleLine = new RegExp(
  `^(${name})(${labelSet})? (${number})(?: (${number}))?(?: # (${labelSet}) (${number})(?: (${number}))?)?$`,
);
const descriptor = new RegExp(`^# (HELP|TYPE|UNIT) (${name})(?: (.*))?$`);
// Exact name first: prom-client's `nodejs_active_handles_total` is a gauge of its own.
const suffixes = ['', '_total', '_created', '_bucket', '_count', '_sum', '_info'];

function parseLabels(text: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  if (!text) return labels;
  const pair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const m of text.slice(1, -1).matchAll(pair)) {
    labels[m[1]!] = m[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  }
  return labels;
}

export function parseOpenMetrics(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.at(-1) !== '# EOF') throw new Error('OpenMetrics exposition must end with "# EOF"');
  lines.forEach((line, index) => {
    if (line === '# EOF') {
      if (index !== lines.length - 1) throw new Error(`line ${index + 1}: "# EOF" before the end`);
      return;
    }
    const d = descriptor.exec(line);
    if (d) {
      const family = families.get(d[2]!) ?? { name: d[2]!, type: 'unknown', help: '', samples: [] };
      if (d[1] === 'TYPE') family.type = d[3] ?? '';
      if (d[1] === 'HELP') family.help = d[3] ?? '';
      families.set(family.name, family);
      return;
    }
    const s = sampleLine.exec(line);
    if (!s) throw new Error(`line ${index + 1} is not OpenMetrics: ${line}`);
    const sampleName = s[1]!;
    const family = suffixes
      .filter((suffix) => sampleName.endsWith(suffix))
      .map((suffix) => families.get(sampleName.slice(0, sampleName.length - suffix.length)))
      .find(Boolean);
    if (!family) throw new Error(`line ${index + 1}: sample ${sampleName} has no TYPE before it`);
    const sample: Sample = { name: sampleName, labels: parseLabels(s[2]), value: Number(s[3]) };
    if (s[5]) {
      sample.exemplar = {
        labels: parseLabels(s[5]),
        value: Number(s[6]),
        ...(s[7] ? { timestamp: Number(s[7]) } : {}),
      };
    }
    family.samples.push(sample);
  });
  return families;
}

/** `promtool check metrics` (Prometheus's own linter) on an exposition; resolves with its output. */
export function promtoolCheckMetrics(promtool: string, exposition: string): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    const child = execFile(promtool, ['check', 'metrics'], (error, stdout, stderr) =>
      resolve({ ok: !error, output: `${stdout}${stderr}` }),
    );
    child.stdin!.end(exposition);
  });
}
