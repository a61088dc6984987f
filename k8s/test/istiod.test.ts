import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { translateComponent } from '@recipe-mesh/experiments/mesh/components';
import { defaultMesh, type MeshDescription, patchListener } from '@recipe-mesh/lab/mesh/description';
import { meshNamespace } from '@recipe-mesh/measure/mesh-namespace';
import { istioOnlyHttpFilters } from '@recipe-mesh/lab/mesh/istiod-parity';
import { defaultPorts } from '@recipe-mesh/lab/ports';
import { pollUntil } from '@recipe-mesh/measure/net';
import { applyObjects, deployedPlatform, type TestPlatform } from './lib/control-plane.js';
import {
  type ConnectedProxy,
  configDump,
  connect,
  type EnvoyConfigDump,
  type GeneratedInstall,
  generatedInstall,
  type Istiod,
  installedIstioVersion,
  istiodSkipReason,
  meshHasPrometheusMetrics,
  podsOf,
  proxyNode,
  startIstiod,
  waitForDisconnect,
  waitForEndpoints,
  waitForIstioConfig,
} from './lib/istiod.js';
import {
  type Difference,
  differences,
  istiodHttpConnectionManagers,
  istiodObjects,
  labObjects,
  places,
  uncoveredFields,
} from './lib/istiod-compare.js';
import { buildCombination, faultComponents, parseYamlDocuments } from './lib/kustomize.js';
import { repoPath } from './lib/repo.js';

/**
 * The lab's Envoy configuration against istiod's own (docs/lab.md, "The lab's Envoy config and
 * istiod's"). A real istiod (pilot-discovery from the istio.io/istio version istioctl is built
 * from) runs against a private control plane holding the platform as `make deploy` applies it,
 * Istio's objects from `istioctl manifest generate -f istio/install/istio-operator.yaml` and the
 * workloads as `istioctl kube-inject` renders them. A small xDS client connects as each injected
 * pod's istio-proxy (the gateway's, web-api's, recipe-api's) and the test reads what istiod
 * generates for it from `/debug/config_dump?proxyID=` (k8s/test/lib/istiod-xds.ts says why this
 * way). For the base resources and every istio/faults component (applied as `make fault` applies them), each
 * field of lab/src/mesh/istiod-parity.ts's table must be equal. Configuration only: nothing is
 * sent to the 10.x addresses in it.
 */
const skip = istiodSkipReason();
let platform: TestPlatform;
let install: GeneratedInstall;
let istiod: Istiod;
const proxies = new Map<string, ConnectedProxy>();

const podLabels: Record<string, [string, string]> = {
  ingress: ['istio-system', 'istio=ingressgateway'],
  'web-api-sidecar': [meshNamespace, 'app=web-api'],
  'recipe-api-sidecar': [meshNamespace, 'app=recipe-api'],
};

before(async () => {
  if (skip) return;
  platform = await deployedPlatform({ istio: true });
  install = generatedInstall(platform);
  istiod = await startIstiod(platform, install);
  // istiod gives a sidecar its inbound side from the Services whose endpoints hold its pod.
  await waitForEndpoints(platform, meshNamespace, ['web-api', 'recipe-api']);
  for (const [proxy, [namespace, label]] of Object.entries(podLabels)) {
    const nodes = podsOf(platform, namespace, label).map((pod) => proxyNode(pod, installedIstioVersion()));
    const mine = places.filter((p) => p.proxy === proxy);
    const routeNames = mine.flatMap((p) => (p.istiod.kind === 'rds' ? [p.istiod.routeConfig] : []));
    // istiod works out a sidecar's inbound side (its Services) from its pod when it connects; kwok
    // reuses the IPs of the pods the injection rollout replaced, and a pod istiod does not match
    // yet gets no inbound chains. Each replica is tried in turn until one is complete.
    const complete = async (connected: ConnectedProxy) => {
      const dump = await configDump(istiod, connected.node);
      return mine.every((place) => typeof istiodObjects(dump, place) !== 'string');
    };
    let connected: ConnectedProxy | null = null;
    const deadline = Date.now() + 120_000;
    for (let attempt = 0; !connected; attempt++) {
      const node = nodes[attempt % nodes.length]!;
      const candidate = await connect(istiod, node, routeNames);
      const ready = await pollUntil(() => complete(candidate), { timeoutMs: 8_000, intervalMs: 250 });
      if (ready.value || Date.now() > deadline) connected = candidate;
      else {
        candidate.connection.close();
        await waitForDisconnect(istiod, node);
      }
    }
    proxies.set(proxy, connected);
  }
});

after(async () => {
  for (const proxy of proxies.values()) proxy.connection.close();
  await istiod?.stop();
  await platform?.stop();
});

async function dumps(): Promise<Map<string, EnvoyConfigDump>> {
  const out = new Map<string, EnvoyConfigDump>();
  for (const [name, proxy] of proxies) out.set(name, await configDump(istiod, proxy.node));
  return out;
}

function labMesh(component: string | null): MeshDescription {
  let mesh = defaultMesh(defaultPorts);
  if (component)
    for (const change of translateComponent(component))
      mesh = patchListener(mesh, change.proxy, change.listener, change.patch);
  return mesh;
}

async function compareWithIstiod(mesh: MeshDescription): Promise<Difference[]> {
  const configs = await dumps();
  const found: Difference[] = [];
  for (const place of places) {
    const theirs = istiodObjects(configs.get(place.proxy)!, place);
    if (typeof theirs === 'string')
      found.push({ proxy: place.proxy, listener: place.listener, field: 'istiod', lab: 'present', istiod: theirs });
    else found.push(...differences(place, labObjects(mesh, place), theirs));
  }
  return found;
}

const variants: (string | null)[] = [null, ...faultComponents().map((c) => path.basename(c))];

describe('the lab’s Envoy config against istiod’s', { skip: skip ?? false }, () => {
  for (const component of variants) {
    const name = component ? `istio/faults/${component}` : 'the base resources';
    test(`${name}: every compared field is istiod’s`, async () => {
      // The Istio objects `make fault FAULT=<component>` (or `make fault-clear`) applies, applied
      // as it applies them (server-side, kubectl's field manager, so a cleared field goes). Not
      // `make fault` itself: re-applying the Deployments would replace the injected pods whose
      // identity the connected proxies present.
      const objects = buildCombination({
        name: component ?? 'minikube',
        components: component ? [`istio/faults/${component}`] : [],
      }).filter((o) => o.apiVersion.startsWith('networking.istio.io/'));
      applyObjects(platform.cluster, objects);
      await waitForIstioConfig(platform, istiod);
      let mesh: MeshDescription;
      try {
        mesh = labMesh(component);
      } catch (error) {
        assert.fail(`the lab cannot translate ${name}: ${(error as Error).message}`);
      }
      // istiod pushes a change after its debounce: compare until equal or the deadline.
      let found: Difference[] = [];
      await pollUntil(
        async () => {
          found = await compareWithIstiod(mesh);
          return found.length === 0;
        },
        { timeoutMs: 15_000, intervalMs: 500 },
      );
      if (found.length) console.log(`${name}: differences\n${JSON.stringify(found, null, 1)}`);
      assert.deepEqual(found, [], `${name}: ${found.length} differences:\n${JSON.stringify(found, null, 1)}`);
    });
  }

  test('every field the lab sets is compared or a listed difference', () => {
    for (const component of variants) {
      const mesh = labMesh(component);
      const uncovered = places.flatMap((place) => uncoveredFields(place, labObjects(mesh, place)));
      assert.deepEqual([...new Set(uncovered)], [], `fields the comparison does not cover (${component ?? 'base'})`);
    }
  });

  test('every HTTP filter istiod installs is the lab’s or a listed Istio-only one', async () => {
    const lab = new Set(['envoy.filters.http.fault', 'envoy.filters.http.router']);
    const configs = await dumps();
    const filters = new Set(
      [...configs.values()].flatMap((dump) =>
        istiodHttpConnectionManagers(dump).flatMap((hcm) =>
          (hcm.http_filters ?? []).map((f: { name: string }) => f.name),
        ),
      ),
    );
    const unlisted = [...filters].filter((f) => !lab.has(f) && !(f in istioOnlyHttpFilters));
    assert.deepEqual(unlisted, []);
  });

  test('istio.stats is in istiod’s HTTP filter chains exactly when the install config enables Prometheus metrics', async () => {
    const configs = await dumps();
    const withStats = [...configs.entries()].map(([proxy, dump]) => [
      proxy,
      istiodHttpConnectionManagers(dump).some((hcm) =>
        (hcm.http_filters ?? []).some((f: { name: string }) => f.name === 'istio.stats'),
      ),
    ]);
    const telemetry = parseYamlDocuments(readFileSync(repoPath('istio/telemetry.yaml'), 'utf8')).filter(
      (o) => o.kind === 'Telemetry' && o.metadata.namespace === 'istio-system',
    );
    const expected = meshHasPrometheusMetrics(install.mesh, telemetry);
    assert.deepEqual(
      withStats,
      [...configs.keys()].map((proxy) => [proxy, expected]),
      `the install config ${expected ? 'enables' : 'does not enable'} the prometheus metrics provider`,
    );
    // The result, for the run's log: whether the cluster exports istio_requests_total.
    console.log(`istio.stats in istiod's HTTP filter chains: ${expected ? 'present' : 'absent'}`);
  });
});
