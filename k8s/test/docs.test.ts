import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { docsProblems } from './lib/docs.js';
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
