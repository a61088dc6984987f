import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hardeningProblems, hardeningRules, writableTmpProblems } from './lib/hardening.js';
import { buildCombination, buildDefault, combinations } from './lib/kustomize.js';
import type { K8sObject } from './lib/objects.js';

/** The rendered platform with one container of one Deployment changed. */
function broken(deployment: string, change: (container: any, pod: any) => void): K8sObject[] {
  const objects = buildDefault();
  const target = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === deployment)!;
  change(target.spec.template.spec.containers[0], target.spec.template.spec);
  return objects;
}

describe('hardening', () => {
  for (const combination of combinations()) {
    test(`every container is hardened in ${combination.name}`, () => {
      const objects = buildCombination(combination);
      assert.deepEqual(hardeningProblems(objects), []);
      assert.deepEqual(writableTmpProblems(objects), []);
    });
  }

  const cases: [string, string, (c: any, pod: any) => void][] = [
    [
      'non-root',
      'web-api',
      (c, pod) => {
        delete c.securityContext.runAsNonRoot;
        delete pod.securityContext.runAsNonRoot;
      },
    ],
    [
      'non-root',
      'grafana',
      (c) => {
        c.securityContext.runAsUser = 0;
      },
    ],
    [
      'read-only-root-filesystem',
      'recipe-api',
      (c) => {
        c.securityContext.readOnlyRootFilesystem = false;
      },
    ],
    [
      'no-privilege-escalation',
      'tempo',
      (c) => {
        delete c.securityContext.allowPrivilegeEscalation;
      },
    ],
    [
      'capabilities-dropped',
      'redis',
      (c) => {
        c.securityContext.capabilities.drop = ['NET_RAW'];
      },
    ],
    [
      'capabilities-dropped',
      'web-api',
      (c) => {
        c.securityContext.capabilities.add = ['NET_ADMIN'];
      },
    ],
    [
      'not-privileged',
      'prometheus',
      (c) => {
        c.securityContext.privileged = true;
      },
    ],
    [
      'not-privileged',
      'web-api',
      (_c, pod) => {
        pod.hostNetwork = true;
      },
    ],
    [
      'seccomp-runtime-default',
      'recipe-api',
      (_c, pod) => {
        delete pod.securityContext.seccompProfile;
      },
    ],
    [
      'resources',
      'web-api',
      (c) => {
        delete c.resources.limits.memory;
      },
    ],
  ];
  for (const [rule, deployment, change] of cases) {
    test(`[${rule}] fails when ${deployment} breaks it`, () => {
      const problems = hardeningProblems(broken(deployment, change));
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0]!, new RegExp(`Deployment recipe-mesh/${deployment} .*\\[${rule}\\]`));
    });
  }

  test('every rule has a failing case above', () => {
    assert.deepEqual(new Set(cases.map(([rule]) => rule)), new Set(hardeningRules.map((r) => r.id)));
  });

  test('init containers are held to the same rules', () => {
    const objects = broken('web-api', (_c, pod) => {
      pod.initContainers = [
        {
          name: 'setup',
          image: 'busybox:1.36.1',
          resources: { requests: { cpu: '10m', memory: '8Mi' }, limits: { memory: '8Mi' } },
        },
      ];
    });
    assert.match(hardeningProblems(objects).join('\n'), /container setup: \[read-only-root-filesystem\]/);
  });

  test('a service without an emptyDir at /tmp fails', () => {
    const objects = broken('recipe-api', (c) => {
      c.volumeMounts = [];
    });
    assert.match(writableTmpProblems(objects).join(), /recipe-api container recipe-api: no emptyDir mounted at \/tmp/);
  });
});
