import { allContainers, describe, workloads, type Container, type K8sObject, type Workload } from './objects.js';

/**
 * The hardening every container must have (docs/kubernetes.md): non-root, read-only root filesystem, no
 * privilege escalation, all capabilities dropped; plus what keeps one pod from hurting the node
 * or its neighbours: no privileged mode or host namespaces, the runtime's seccomp profile, and
 * requests and a memory limit so the scheduler can place it.
 */
export interface Rule {
  id: string;
  check: (workload: Workload, container: Container) => string | null;
}

const effective = (w: Workload, c: Container, key: string): unknown =>
  c.securityContext?.[key] ?? w.pod.securityContext?.[key];

export const hardeningRules: Rule[] = [
  {
    id: 'non-root',
    check: (w, c) => {
      if (effective(w, c, 'runAsNonRoot') !== true) return 'runAsNonRoot is not true';
      if (effective(w, c, 'runAsUser') === 0) return 'runAsUser is 0 (root)';
      return null;
    },
  },
  {
    id: 'read-only-root-filesystem',
    check: (_w, c) =>
      c.securityContext?.readOnlyRootFilesystem === true ? null : 'readOnlyRootFilesystem is not true',
  },
  {
    id: 'no-privilege-escalation',
    check: (_w, c) =>
      c.securityContext?.allowPrivilegeEscalation === false ? null : 'allowPrivilegeEscalation is not false',
  },
  {
    id: 'capabilities-dropped',
    check: (_w, c) => {
      const caps = c.securityContext?.capabilities ?? {};
      if (!Array.isArray(caps.drop) || !caps.drop.includes('ALL')) return 'capabilities.drop does not include ALL';
      if (Array.isArray(caps.add) && caps.add.length) return `capabilities.add is ${caps.add.join(',')}`;
      return null;
    },
  },
  {
    id: 'not-privileged',
    check: (w, c) => {
      if (c.securityContext?.privileged === true) return 'privileged is true';
      for (const host of ['hostNetwork', 'hostPID', 'hostIPC'] as const)
        if (w.pod[host] === true) return `${host} is true`;
      return null;
    },
  },
  {
    id: 'seccomp-runtime-default',
    check: (w, c) => {
      const profile = c.securityContext?.seccompProfile?.type ?? w.pod.securityContext?.seccompProfile?.type;
      return profile === 'RuntimeDefault' || profile === 'Localhost' ? null : 'seccompProfile is not RuntimeDefault';
    },
  },
  {
    id: 'resources',
    check: (_w, c) => {
      const r = c.resources ?? {};
      const missing = [
        r.requests?.cpu ? null : 'requests.cpu',
        r.requests?.memory ? null : 'requests.memory',
        r.limits?.memory ? null : 'limits.memory',
      ].filter(Boolean);
      return missing.length ? `no ${missing.join(', ')}` : null;
    },
  },
];

export function hardeningProblems(objects: K8sObject[], rules: Rule[] = hardeningRules): string[] {
  const problems: string[] = [];
  for (const w of workloads(objects)) {
    for (const c of allContainers(w.pod)) {
      for (const rule of rules) {
        const problem = rule.check(w, c);
        if (problem) problems.push(`${describe(w.object)} container ${c.name}: [${rule.id}] ${problem}`);
      }
    }
  }
  return problems;
}

/** The service writes only to /tmp (docs/contracts.md): with a read-only root it needs a volume there. */
export function writableTmpProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const w of workloads(objects)) {
    for (const c of w.pod.containers.filter((c) => c.image.startsWith('recipe-mesh/'))) {
      const mount = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
      const volume = mount && w.pod.volumes?.find((v: any) => v.name === mount.name);
      if (!volume?.emptyDir) problems.push(`${describe(w.object)} container ${c.name}: no emptyDir mounted at /tmp`);
    }
  }
  return problems;
}
