import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@recipe-mesh/measure/net';
import { meshNamespace } from '@recipe-mesh/measure/mesh-namespace';
import {
  controlPlaneSkipReason,
  deployedPlatform,
  type TestControlPlane,
  type TestPlatform,
} from './lib/control-plane.js';
import { buildDefault } from './lib/kustomize.js';
import { type K8sObject, workloads } from './lib/objects.js';

/**
 * The deployed platform on a real control plane with kwok nodes (k8s/kube): Services resolve
 * their named target ports into EndpointSlices, PodDisruptionBudgets hold during a drain, and the
 * pods pass Pod Security Admission `restricted`. kwok marks pods Ready without running them, so
 * probes and preStop timing are not exercised here (docs/kubernetes.md).
 */
const skip = controlPlaneSkipReason();
let platform: TestPlatform;
let cluster: TestControlPlane;
const objects = buildDefault();
const ns = meshNamespace;

before(async () => {
  if (skip) return;
  platform = await deployedPlatform();
  cluster = platform.cluster;
});
after(async () => {
  await platform?.stop();
});

const getJson = (args: string[]) =>
  JSON.parse(cluster.kubectl([...args, '-o', 'json'])) as { items: K8sObject[] } & K8sObject;
const podsOf = (app: string) => getJson(['-n', ns, 'get', 'pods', '-l', `app=${app}`]).items;

describe('the platform on a real API server', { skip: skip ?? false }, () => {
  test('the control plane stays under 1.5 GiB of resident memory with the platform deployed', () => {
    assert.ok(cluster.rssBytes() < 1.5 * 2 ** 30, `${Math.round(cluster.rssBytes() / 2 ** 20)} MiB`);
  });

  test('every Service has ready EndpointSlices on its named ports, resolved to the container ports', async () => {
    const services = objects.filter((o) => o.kind === 'Service' && o.metadata.namespace === ns);
    assert.ok(services.length >= 5);
    for (const service of services) {
      const selected = workloads(objects).filter((w) =>
        Object.entries(service.spec.selector ?? {}).every(([k, v]) => w.labels[k] === v),
      );
      assert.equal(selected.length, 1, `${service.metadata.name} selects one workload`);
      const workload = selected[0]!;
      const slices = await waitFor(
        () => {
          const items = getJson([
            '-n',
            ns,
            'get',
            'endpointslices',
            '-l',
            `kubernetes.io/service-name=${service.metadata.name}`,
          ]).items as any[];
          const ready = items.flatMap((s) => s.endpoints ?? []).filter((e: any) => e.conditions?.ready);
          return ready.length === workload.replicas ? items : false;
        },
        { timeoutMs: 30_000, what: `ready endpoints of ${service.metadata.name}` },
      );
      for (const port of service.spec.ports as { name: string; targetPort: string | number; port: number }[]) {
        const container = workload.pod.containers.flatMap((c) => c.ports ?? []);
        const wanted =
          typeof port.targetPort === 'string'
            ? container.find((p) => p.name === port.targetPort)?.containerPort
            : (port.targetPort ?? port.port);
        assert.ok(wanted, `${service.metadata.name}:${port.name} targets a port its pods declare`);
        for (const slice of slices as any[])
          assert.ok(
            slice.ports.some((p: any) => p.name === port.name && p.port === wanted),
            `${service.metadata.name}: slice port ${port.name} → ${wanted}, got ${JSON.stringify(slice.ports)}`,
          );
      }
    }
  });

  test('every PodDisruptionBudget allows exactly one disruption', async () => {
    const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget');
    assert.ok(pdbs.length >= 2);
    for (const pdb of pdbs) {
      await waitFor(
        () => {
          const live = getJson(['-n', ns, 'get', 'pdb', pdb.metadata.name]);
          return (live as any).status?.disruptionsAllowed === 1;
        },
        { timeoutMs: 30_000, what: `PDB ${pdb.metadata.name} to allow 1 disruption` },
      );
    }
  });

  test('an eviction that would break a PodDisruptionBudget is refused', async () => {
    // With every node cordoned no replacement can start, so the second eviction must wait.
    const nodes = getJson(['get', 'nodes']).items.map((n) => n.metadata.name);
    cluster.kubectl(['cordon', ...nodes]);
    try {
      const [first, second] = podsOf('recipe-api').map((p) => p.metadata.name);
      const evict = (pod: string) =>
        cluster.kubectl(
          ['create', '--raw', `/api/v1/namespaces/${ns}/pods/${pod}/eviction`, '-f', '-'],
          JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod, namespace: ns } }),
        );
      evict(first!);
      assert.throws(() => evict(second!), /disruption budget|TooManyRequests|429/);
    } finally {
      cluster.kubectl(['uncordon', ...nodes]);
    }
    await waitFor(() => podsOf('recipe-api').filter((p: any) => p.status?.phase === 'Running').length === 2, {
      timeoutMs: 30_000,
      what: 'recipe-api back to 2 running pods',
    });
  });

  test('kubectl drain of one node moves its pods and keeps every Deployment available', () => {
    const nodes = getJson(['get', 'nodes']).items.map((n) => n.metadata.name);
    const drained = nodes[0]!;
    cluster.kubectl(['drain', drained, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=120s']);
    try {
      const left = getJson(['-n', ns, 'get', 'pods', '--field-selector', `spec.nodeName=${drained}`]).items;
      assert.deepEqual(
        left.map((p) => p.metadata.name),
        [],
      );
      cluster.kubectl([
        '-n',
        ns,
        'rollout',
        'status',
        'deployment',
        '-l',
        'app.kubernetes.io/part-of=recipe-mesh',
        '--timeout=60s',
      ]);
    } finally {
      cluster.kubectl(['uncordon', drained]);
    }
  });

  test('the namespace passes Pod Security Admission restricted (nothing Istio injects is deployed here)', () => {
    const result = cluster.kubectlResult([
      'label',
      '--dry-run=server',
      '--overwrite',
      'namespace',
      ns,
      'pod-security.kubernetes.io/enforce=restricted',
    ]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /labeled/);
    // Existing pods that violate the level come back as warnings, on stderr.
    const warnings = result.stderr;
    assert.doesNotMatch(warnings, /violate|Warning/, warnings);
  });
});
