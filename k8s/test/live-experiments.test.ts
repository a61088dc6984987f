import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { meshNamespace } from '@recipe-mesh/lab/mesh/namespace';
import { waitForScrape } from '@recipe-mesh/lab/panels/scrape';
import { requireBinary } from '@recipe-mesh/measure/binaries';
import { catalogue } from '../../experiments/src/catalogue.js';
import type { Experiment, Fix } from '../../experiments/src/definition.js';
import { k8sSignals } from '../../experiments/src/k8s-signals.js';
import {
  type K8sStep,
  k8sPlan,
  minikubeAccess,
  promQuery,
  promWindow,
  runCommand,
} from '../../experiments/src/targets/k8s.js';
import { controlPlaneSkipReason, deployedPlatform, istioAnalyze, type TestPlatform } from './lib/control-plane.js';
import {
  changedObjects,
  duplicateDestinationRules,
  hostProblems,
  istioSnapshot,
  namespaceProblems,
  snapshotDifferences,
} from './lib/istio-state.js';
import { buildDefault } from './lib/kustomize.js';
import type { K8sObject } from './lib/objects.js';
import { type IstioShapedPrometheus, scrapedPods, startIstioShapedPrometheus } from './lib/prometheus-fixture.js';
import { checkPrometheusSources } from '../../experiments/src/dry-run.js';

/**
 * `npm run experiment -- <name> --target k8s` against real servers (docs/kubernetes.md, "What the
 * tests prove"): the plan's mesh setup and restore commands run against a control plane with
 * the platform and Istio's control-plane objects, and every experiment's PromQL runs against a
 * real Prometheus scraping series shaped like Istio's standard metrics. Prometheus starts first:
 * the minute of incident its queries need passes while the control plane works.
 */
const experiments = catalogue as Experiment<unknown>[];
const runs = experiments.flatMap((e) =>
  [null, ...e.fixes].map((fix: Fix | null) => ({ e, fix, setup: fix?.setup ?? e.incidentSetup })),
);
const meshRuns = runs.filter((r) => r.setup.mesh.length > 0);
const label = (r: { e: Experiment<unknown>; fix: Fix | null }) =>
  `${r.e.name} ${r.fix ? `--fix-variant ${r.fix.name}` : '(incident)'}`;

const clusterSkip = controlPlaneSkipReason();
const prometheusBinary = requireBinary('prometheus');
const prometheusSkip = 'skip' in prometheusBinary ? prometheusBinary.skip : false;
/** A short run: its PromQL window is promWindow's minimum, one minute. */
const durationS = 10;
const windowMs = Number.parseInt(promWindow(durationS), 10) * 60_000;

let platform: TestPlatform;
let prometheus: IstioShapedPrometheus | undefined;

before(async () => {
  if (!prometheusSkip && 'path' in prometheusBinary)
    prometheus = await startIstioShapedPrometheus({
      prometheus: prometheusBinary.path,
      pods: scrapedPods(buildDefault()),
      namespace: meshNamespace,
      baselineMs: 8_000,
    });
  if (!clusterSkip) platform = await deployedPlatform({ istio: true });
});
after(async () => {
  await platform?.stop();
  await prometheus?.stop();
});

const commands = (steps: K8sStep[], phase: 'setup' | 'restore', scope: 'mesh' | 'app-env') =>
  steps.filter(
    (s): s is Extract<K8sStep, { kind: 'command'; scope: string }> =>
      s.kind === 'command' && s.phase === phase && s.scope === scope,
  );
const planOn = (platform: TestPlatform, run: { e: Experiment<unknown>; fix: Fix | null }) =>
  k8sPlan(run.e, {
    fix: run.fix,
    cluster: {
      kubeconfig: platform.cluster.kubeconfig,
      context: platform.cluster.context,
      kubectl: platform.cluster.kubectlPath,
    },
    durationS,
    overlayDir: platform.overlayDir,
  });

describe('--target k8s applies and restores its Istio resources on a real API server', {
  skip: clusterSkip ?? false,
}, () => {
  test('some experiment changes the mesh', () => {
    assert.ok(meshRuns.length > 0);
  });

  for (const run of meshRuns) {
    test(`${label(run)}: what it applies passes istioctl analyze, lands in ${meshNamespace}, names existing hosts, one DestinationRule per host; restore leaves no field behind`, async () => {
      const { cluster } = platform;
      const plan = planOn(platform, run);
      const [apply, restore] = [commands(plan.steps, 'setup', 'mesh'), commands(plan.steps, 'restore', 'mesh')];
      assert.ok(apply.length > 0 && restore.length > 0, `${label(run)}: no mesh steps in the plan`);
      const before = istioSnapshot(cluster);
      try {
        for (const step of apply) await runCommand(step.argv, step.stdin);
        const applied = istioSnapshot(cluster);
        const changed = changedObjects(before, applied);
        assert.ok(changed.length > 0, `${label(run)}: the setup changed no Istio resource`);
        const services = (
          JSON.parse(cluster.kubectl(['get', 'services', '-A', '-o', 'json'])) as { items: K8sObject[] }
        ).items;
        const destinationRules = [...applied.values()].map((v) => v.object).filter((o) => o.kind === 'DestinationRule');
        assert.deepEqual(
          [
            ...namespaceProblems(changed, meshNamespace),
            ...hostProblems(changed, services),
            ...duplicateDestinationRules(destinationRules, services),
          ],
          [],
        );
        assert.deepEqual(
          istioAnalyze(platform).filter((m) => m.level !== 'Info'),
          [],
        );
      } finally {
        for (const step of restore) await runCommand(step.argv, step.stdin);
      }
      assert.deepEqual(snapshotDifferences(before, istioSnapshot(cluster)), []);
    });
  }

  // Startup settings (`kubectl set env`, then `rollout status`) need no kubelet: kwok rolls the pods.
  for (const run of runs.filter((r) => r.fix === null && Object.keys(r.e.labAppEnv ?? {}).length > 0)) {
    test(`${run.e.name}: its startup settings roll recipe-api out, and the restore gives back the same pod template`, async () => {
      const { cluster } = platform;
      const plan = planOn(platform, run);
      const template = () =>
        JSON.parse(cluster.kubectl(['-n', meshNamespace, 'get', 'deployment', 'recipe-api', '-o', 'json'])).spec
          .template;
      const before = template();
      for (const step of commands(plan.steps, 'setup', 'app-env')) await runCommand(step.argv);
      const env = template().spec.containers.find((c: { name: string }) => c.name === 'recipe-api').env;
      for (const [key, value] of Object.entries(run.e.labAppEnv ?? {}))
        assert.ok(
          env.some((v: { name: string; value: string }) => v.name === key && v.value === value),
          `${key}=${value} in ${JSON.stringify(env)}`,
        );
      for (const step of commands(plan.steps, 'restore', 'app-env')) await runCommand(step.argv);
      assert.deepEqual(template(), before);
    });
  }
});

describe("each experiment's PromQL against a real Prometheus fed Istio-shaped series", {
  skip: prometheusSkip,
}, () => {
  /** One window after the exporter switched to the incidents: "before" queries see the baseline. */
  let atMs: number;
  before(async () => {
    atMs = prometheus!.clock.switchAtMs + windowMs;
    await waitForScrape(prometheus!.url, atMs + 1_000, { timeoutMs: Math.max(0, atMs - Date.now()) + 30_000 });
  });

  const queriesOf = (e: Experiment<unknown>, namespace: string) =>
    k8sPlan(e, { fix: null, cluster: minikubeAccess, namespace, durationS }).steps.filter(
      (s): s is Extract<K8sStep, { kind: 'query' }> => s.kind === 'query',
    );
  const valuesOf = async (queries: { name: string; promql: string }[]) =>
    Object.fromEntries(
      await Promise.all(queries.map(async (q) => [q.name, await promQuery(prometheus!.url, q.promql, atMs)] as const)),
    );
  /**
   * The first label matcher that is not the namespace given a value no series has, everywhere it
   * appears (a count's `or 0 * …` fallback repeats the selector).
   */
  const wrongLabel = (promql: string) => {
    const matcher = /\b(?!namespace\b|destination_workload_namespace\b)(\w+)(=~?)"([^"]+)"/.exec(promql);
    return matcher ? promql.replaceAll(matcher[0], `${matcher[1]}${matcher[2]}"${matcher[3]}-wrong"`) : promql;
  };

  test('--dry-run finds every signal source in the namespace Prometheus scrapes, and none elsewhere', async () => {
    const sources = (namespace: string) =>
      experiments.flatMap((e) =>
        queriesOf(e, namespace).map((q) => ({ signal: `${e.name} ${q.name}`, promql: q.promql })),
      );
    const found = await checkPrometheusSources(prometheus!.url, sources(meshNamespace));
    assert.deepEqual(
      found.filter((c) => !c.ok),
      [],
    );
    const elsewhere = await checkPrometheusSources(prometheus!.url, sources('default'));
    assert.ok(
      elsewhere.every((c) => !c.ok && c.detail.startsWith('no series')),
      JSON.stringify(elsewhere.filter((c) => c.ok)),
    );
    const [unreachable] = await checkPrometheusSources('http://127.0.0.1:9', sources(meshNamespace).slice(0, 1));
    assert.match(unreachable!.detail, /^unreachable/);
  });

  for (const e of experiments) {
    test(`${e.name}: its queries return data in ${meshNamespace} and judge the incident`, async () => {
      const queries = queriesOf(e, meshNamespace);
      assert.ok(queries.length >= 2, `${e.name} has ${queries.length} PromQL signals`);
      const values = await valuesOf(queries);
      for (const q of queries) assert.notEqual(values[q.name], null, `${e.name}: no data for ${q.promql}`);
      const verdict = k8sSignals(e).judge(values);
      assert.equal(
        verdict.outcome,
        'incident',
        `${e.name}: ${verdict.reasons.join('; ')} from ${JSON.stringify(values)}`,
      );
    });

    test(`${e.name}: a wrong namespace or label returns nothing, and the verdict is then not a pass`, async () => {
      const elsewhere = queriesOf(e, 'default');
      const values = await valuesOf(elsewhere);
      assert.deepEqual(
        elsewhere.filter((q) => values[q.name] !== null).map((q) => q.promql),
        [],
        'queries that found data outside the namespace',
      );
      assert.notEqual(k8sSignals(e).judge(values).outcome, 'incident');

      const mislabelled = queriesOf(e, meshNamespace).map((q) => ({ ...q, promql: wrongLabel(q.promql) }));
      for (const [i, q] of queriesOf(e, meshNamespace).entries())
        assert.notEqual(mislabelled[i]!.promql, q.promql, `a label to break in ${q.promql}`);
      const wrong = await valuesOf(mislabelled);
      assert.deepEqual(
        mislabelled.filter((q) => wrong[q.name] !== null).map((q) => q.promql),
        [],
        'queries that found data with a wrong label',
      );
      assert.notEqual(k8sSignals(e).judge(wrong).outcome, 'incident');
    });
  }
});
