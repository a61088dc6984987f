import type { MeshInstall } from './istio-install.js';
import { allContainers, cpuMillis, isServiceImage, memoryBytes, workloads, type K8sObject } from './objects.js';

/**
 * Does the platform fit `minikube start --cpus=N --memory=M`? Adds up the requests (what the
 * scheduler reserves) and memory limits (what the pods may really take) of every pod replica, an
 * Istio sidecar for each meshed pod, and istiod and the ingress gateway, and compares them with
 * the machine minus what Kubernetes itself reserves on a minikube node (kube-system's control
 * plane requests 0.75 CPU and a few hundred MiB; the node keeps memory for the OS and kubelet).
 */
export const systemReserve = { cpuMillis: 1000, memoryBytes: 2 * 2 ** 30 };

export interface Totals {
  requestCpuMillis: number;
  requestMemoryBytes: number;
  limitMemoryBytes: number;
}

function isMeshed(objects: K8sObject[], namespace: string, annotations: Record<string, string>): boolean {
  if (annotations['sidecar.istio.io/inject'] === 'false') return false;
  const nsObject = objects.find((o) => o.kind === 'Namespace' && o.metadata.name === namespace);
  return nsObject?.metadata.labels?.['istio-injection'] === 'enabled';
}

export function platformTotals(objects: K8sObject[], install: MeshInstall): Totals {
  const totals: Totals = { requestCpuMillis: 0, requestMemoryBytes: 0, limitMemoryBytes: 0 };
  const add = (
    requests: Record<string, string | undefined> = {},
    limits: Record<string, string | undefined> = {},
    times = 1,
  ) => {
    totals.requestCpuMillis += cpuMillis(requests.cpu) * times;
    totals.requestMemoryBytes += memoryBytes(requests.memory) * times;
    // Without a limit a container may take what it likes; count its request at least.
    totals.limitMemoryBytes += memoryBytes(limits.memory ?? requests.memory) * times;
  };
  for (const w of workloads(objects)) {
    for (const c of allContainers(w.pod)) add(c.resources?.requests, c.resources?.limits, w.replicas);
    if (isMeshed(objects, w.namespace, w.annotations)) add(install.sidecarRequests, install.sidecarLimits, w.replicas);
  }
  install.controlPlaneRequests.forEach((requests, i) => add(requests, install.controlPlaneLimits[i]));
  return totals;
}

export function parseMinikubeSize(cpus: string, memory: string): { cpuMillis: number; memoryBytes: number } {
  const m = /^(\d+)([mg]?)b?$/i.exec(memory.trim());
  const amount = Number(m?.[1] ?? NaN);
  const unit = (m?.[2] ?? '').toLowerCase();
  // minikube reads a bare number as MiB.
  const bytes = unit === 'g' ? amount * 2 ** 30 : amount * 2 ** 20;
  return { cpuMillis: Number(cpus) * 1000, memoryBytes: bytes };
}

export function budgetProblems(totals: Totals, machine: { cpuMillis: number; memoryBytes: number }): string[] {
  const problems: string[] = [];
  const cpu = machine.cpuMillis - systemReserve.cpuMillis;
  const memory = machine.memoryBytes - systemReserve.memoryBytes;
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
  if (totals.requestCpuMillis > cpu)
    problems.push(`CPU requests ${totals.requestCpuMillis}m exceed the ${cpu}m left on the minikube node`);
  if (totals.requestMemoryBytes > memory)
    problems.push(
      `memory requests ${gib(totals.requestMemoryBytes)} exceed the ${gib(memory)} left on the minikube node`,
    );
  if (totals.limitMemoryBytes > memory)
    problems.push(`memory limits ${gib(totals.limitMemoryBytes)} exceed the ${gib(memory)} left on the minikube node`);
  return problems;
}

/**
 * Resident memory a Node service needs beside its V8 heap: the binary's mapped pages, native
 * buffers, malloc's arenas, thread stacks. Measured as RSS minus V8's heap total under B4 load:
 * about 65 MiB on Node 20, 85 to 87 MiB on the images' Node 24, whose binary keeps 9 MiB more
 * of its pages resident (docs/benchmarks.md, "Memory").
 */
export const nodeOutsideHeapBytes = 90 * 2 ** 20;

/**
 * Each service container caps its V8 heap with NODE_OPTIONS (--max-old-space-size and
 * --max-semi-space-size, in MiB), and the most the heap may take (the old space plus V8's young
 * generation of three semi-spaces) plus what Node holds outside it fits under the memory limit: a
 * heap allowed to outgrow the limit turns garbage V8 has not yet collected into an OOMKill.
 */
export function heapCapProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const w of workloads(objects)) {
    for (const c of w.pod.containers.filter((c) => isServiceImage(c.image))) {
      const options = c.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
      const flag = (name: string) => Number(new RegExp(`--${name}=(\\d+)`).exec(options)?.[1] ?? Number.NaN);
      const oldMiB = flag('max-old-space-size');
      const semiMiB = flag('max-semi-space-size');
      if (Number.isNaN(oldMiB) || Number.isNaN(semiMiB)) {
        problems.push(`${w.name}/${c.name}: NODE_OPTIONS sets no --max-old-space-size and --max-semi-space-size`);
        continue;
      }
      const need = (oldMiB + 3 * semiMiB) * 2 ** 20 + nodeOutsideHeapBytes;
      const limit = memoryBytes(c.resources?.limits?.memory);
      if (!(limit >= need))
        problems.push(
          `${w.name}/${c.name}: heap cap ${oldMiB}+3×${semiMiB} MiB plus ${nodeOutsideHeapBytes / 2 ** 20} MiB outside the heap exceeds the memory limit ${c.resources?.limits?.memory}`,
        );
    }
  }
  return problems;
}
