import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from './repo.js';

/**
 * Runs make/k8s.mk targets against fake minikube, kubectl, istioctl, docker and curl that record
 * their argv, with a PATH holding only those fakes and the ordinary utilities a recipe needs, so
 * the real kubectl of this machine is never reached and a missing tool can be simulated.
 */
export type FakeTool = 'minikube' | 'kubectl' | 'istioctl' | 'docker' | 'curl';
export const allFakeTools: FakeTool[] = ['minikube', 'kubectl', 'istioctl', 'docker', 'curl'];

/** Utilities the recipes and k8s/scripts/smoke.sh use, linked from this machine. */
const utilities = [
  'bash',
  'sh',
  'make',
  'grep',
  'sed',
  'tr',
  'ls',
  'head',
  'mkdir',
  'cat',
  'env',
  'node',
  'sleep',
  'basename',
  'dirname',
  'rm',
  'printf',
];

/**
 * The fakes' behaviour: fixed answers, selected by argv, for the calls whose output a recipe reads.
 * Every call appends its argv to $FAKE_LOG (fields separated by \x1f, one call a line); docker also
 * records DOCKER_HOST, to prove `minikube docker-env` was applied.
 */
const script = (tool: FakeTool) => `#!/bin/bash
{ printf '%s' "${tool}"; for a in "$@"; do printf '\\x1f%s' "$a"; done; ${tool === 'docker' ? `printf '\\x1fDOCKER_HOST=%s' "\${DOCKER_HOST:-}"; ` : ''}printf '\\n'; } >> "$FAKE_LOG"
case "${tool}" in
  istioctl) [[ "$1" == version ]] && echo "client version: \${FAKE_ISTIOCTL_VERSION:-0.0.0}" ;;
  minikube) [[ " $* " == *" docker-env "* ]] && echo 'export DOCKER_HOST="tcp://192.0.2.10:2376"' ;;
  curl) printf '%s' "\${FAKE_CURL_CODE:-200}" ;;
  kubectl)
    case " $* " in
      *" jsonpath="*) printf '%s' "\${FAKE_INGRESS_HOST:-}" ;;
      *"/tempo:3200/proxy/"*) printf '%s' "\${FAKE_TEMPO_BODY:-}" ;;
      *"/prometheus:9090/proxy/"*) printf '%s' "\${FAKE_PROMETHEUS_BODY:-}" ;;
    esac
    exit "\${FAKE_KUBECTL_EXIT:-0}" ;;
esac
exit 0
`;

export interface MakeRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** argv of every fake call, in order, tool first. */
  calls: string[][];
}

export interface FakeWorld {
  dir: string;
  run(target: string, variables?: Record<string, string>, env?: Record<string, string>): MakeRun;
  cleanup(): void;
}

export function fakeWorld(tools: FakeTool[] = allFakeTools): FakeWorld {
  const dir = mkdtempSync(path.join(tmpdir(), 'k8s-fake-'));
  const bin = path.join(dir, 'bin');
  const utils = path.join(dir, 'utils');
  mkdirSync(bin);
  mkdirSync(utils);
  for (const tool of tools) {
    writeFileSync(path.join(bin, tool), script(tool));
    chmodSync(path.join(bin, tool), 0o755);
  }
  for (const util of utilities) {
    const found = (process.env.PATH ?? '')
      .split(path.delimiter)
      .map((d) => path.join(d, util))
      .find((p) => existsSync(p));
    if (found) symlinkSync(found, path.join(utils, util));
  }
  const log = path.join(dir, 'calls.log');
  return {
    dir,
    run(target, variables = {}, env = {}) {
      writeFileSync(log, '');
      const result = spawnSync(
        path.join(utils, 'make'),
        [
          '--no-print-directory',
          '-f',
          'make/k8s.mk',
          target,
          ...Object.entries(variables).map(([k, v]) => `${k}=${v}`),
        ],
        {
          cwd: repoRoot,
          encoding: 'utf8',
          env: { PATH: `${bin}${path.delimiter}${utils}`, HOME: dir, FAKE_LOG: log, ...env },
          timeout: 60_000,
        },
      );
      const calls = readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split('\x1f'));
      return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls };
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
