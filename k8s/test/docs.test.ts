import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { catalogue } from '@recipe-mesh/experiments/catalogue';
import { parse } from 'yaml';
import { docsProblems, faultRowProblems, selectorProblems } from './lib/docs.js';
import { buildDefault } from './lib/kustomize.js';
import { makeVariables } from './lib/images.js';
import { repoPath } from './lib/repo.js';

const doc = readFileSync(repoPath('docs/kubernetes.md'), 'utf8');
const makefile = readFileSync(repoPath('make/k8s.mk'), 'utf8');
const vars = makeVariables(makefile);

describe('docs/kubernetes.md', () => {
  test('shows every make target and the pinned versions the Makefile enforces', () => {
    assert.deepEqual(docsProblems(doc, makefile, vars), []);
  });

  test('fails when a pin moves without the doc, or a target is undocumented', () => {
    assert.match(
      docsProblems(doc, makefile, { ...vars, ISTIO_VERSION: '1.31.0' }).join(),
      /ISTIO_VERSION should read 1\.31\.0/,
    );
    const extra = `${makefile}\nk8s-logs: ## Tail the logs\n\t@true\n`;
    assert.match(docsProblems(doc, extra, vars).join(), /never shows make k8s-logs/);
    assert.match(
      docsProblems(doc.replaceAll('minikube tunnel', 'the tunnel'), makefile, vars).join(),
      /minikube tunnel/,
    );
  });
});

/** Each mesh fault with the experiments that apply it (incident or fix), from the catalogue. */
function faultUsers(): Map<string, Set<string>> {
  const users = new Map<string, Set<string>>();
  for (const e of catalogue)
    for (const setup of [e.incidentSetup, ...e.fixes.map((f) => f.setup)])
      for (const component of setup.mesh) users.set(component, (users.get(component) ?? new Set()).add(e.name));
  return users;
}

describe('istio/faults/*/README.md', () => {
  const faultsDir = repoPath('istio/faults');
  const faults = readdirSync(faultsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name);
  const users = faultUsers();

  test('every mesh component an experiment applies is a folder of istio/faults', () => {
    assert.deepEqual(
      [...users.keys()].filter((c) => !faults.includes(c)),
      [],
    );
  });

  for (const fault of faults) {
    test(`${fault}: a README naming its experiments and how to apply and verify it with an explicit kubeconfig`, () => {
      const file = path.join(faultsDir, fault, 'README.md');
      assert.ok(existsSync(file), `istio/faults/${fault} has no README.md`);
      const text = readFileSync(file, 'utf8');
      const experiment = text.split('## Experiment')[1]?.split('\n## ')[0] ?? '';
      const named = [...experiment.matchAll(/^- `([a-z0-9-]+)`/gm)].map((m) => m[1]);
      const expected = [...(users.get(fault) ?? [])];
      if (expected.length) assert.deepEqual(named.sort(), expected.sort());
      else assert.match(experiment, /No experiment applies it/);
      assert.ok(text.includes(`make fault FAULT=${fault}`), 'how to apply it');
      assert.match(text, /make fault-clear/);
      const clusterLines = text.split('\n').filter((l) => /^(kubectl|istioctl) /.test(l) && !/ kustomize /.test(l));
      assert.ok(
        clusterLines.some((l) => l.startsWith('istioctl ')),
        'verifies with istioctl proxy-config',
      );
      for (const line of clusterLines) assert.match(line, /--kubeconfig \S+ --context /, line);
    });
  }
});

describe('what docs/kubernetes.md and the hints tell people to type', () => {
  test("the idle-timeout fix is the component's own value", () => {
    const component = parse(readFileSync(repoPath('istio/faults/idle-timeout/kustomization.yaml'), 'utf8')) as {
      patches: Array<{ patch: string }>;
    };
    const ops = component.patches.flatMap((p) => parse(p.patch) as Array<{ path: string; value: unknown }>);
    const idle = ops.find((op) => op.path.endsWith('/idleTimeout'));
    assert.ok(idle, 'the idle-timeout component patches idleTimeout');
    assert.deepEqual(faultRowProblems(doc, 'idle-timeout', String(idle.value)), []);
    assert.match(faultRowProblems(doc, 'idle-timeout', '3s').join(), /should give 3 s/);
  });

  test('every label selector in the docs, the experiments and the Makefile is a label a manifest sets', () => {
    const files = (dir: string, ext: RegExp): string[] =>
      readdirSync(repoPath(dir)).flatMap((entry) => {
        const rel = path.join(dir, entry);
        if (statSync(repoPath(rel)).isDirectory()) return files(rel, ext);
        return ext.test(entry) ? [rel] : [];
      });
    const texts = [
      ...files('docs', /\.md$/),
      'README.md',
      ...files('experiments/src', /\.ts$/),
      ...files('make', /\.mk$/),
    ].map((file) => ({ file, text: readFileSync(repoPath(file), 'utf8') }));
    const objects = buildDefault();
    assert.deepEqual(selectorProblems(texts, objects), []);
    assert.deepEqual(
      selectorProblems([{ file: 'x.md', text: 'kubectl get pods -l app.kubernetes.io/name=web-api' }], objects),
      ['x.md: selects app.kubernetes.io/name=web-api, which no manifest sets'],
    );
  });
});
