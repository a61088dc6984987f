import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { meshNamespace } from '@recipe-mesh/measure/mesh-namespace';
import { waitForScrape } from '@recipe-mesh/measure/scrape';
import { requireBinary } from '@recipe-mesh/measure/binaries';
import { catalogue } from '../../experiments/src/catalogue.js';
import type { Experiment, Fix } from '../../experiments/src/definition.js';
import { k8sSignals } from '../../experiments/src/k8s-signals.js';
import {
  applyPodFaults,
  type K8sStep,
  k8sPlan,
  minikubeAccess,
  promQuery,
  promWindow,
  readPodAccessLogs,
  runCommand,
  runPlan,
} from '../../experiments/src/targets/k8s.js';
import { exactValues } from '../../experiments/src/k8s-evidence.js';
import { podsOfDeployment } from '../../experiments/src/k8s-pods.js';
import { podTemplates } from '../../experiments/src/k8s-state.js';
import { type PodAdmin, startEnvoyAdmin, startPodAdmin, writeCriLog } from './lib/pod-admin.js';
import { recipeApiOutboundCluster } from '../../experiments/src/evidence/envoy-stats.js';
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
/** What every pod of each service answers on its admin port (kwok forwards both pods to it). */
const admins: Partial<Record<'web-api' | 'recipe-api', PodAdmin>> = {};
const envoyBinary = requireBinary('envoy');
let envoyAdmin: { port: number; stop(): Promise<void> } | undefined;
const logDir = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-pod-logs-'));
/** The file kwok serves as every mesh pod's istio-proxy log. */
const sidecarLogFile = path.join(logDir, 'istio-proxy.log');
const sidecarLine = (status: string) =>
  `[${new Date().toISOString()}] "GET /recipes/42 HTTP/1.1" ${status} "-" 0 95 1 - "-" "node" "id-1" "recipe-api.recipe-mesh.svc.cluster.local:4000" "10.244.0.12:4000" inbound|4000|| 127.0.0.6:51427 10.244.0.12:4000 10.244.0.9:40212 outbound_.4000_._.recipe-api.recipe-mesh.svc.cluster.local default`;

before(async () => {
  if (!prometheusSkip && 'path' in prometheusBinary)
    prometheus = await startIstioShapedPrometheus({
      prometheus: prometheusBinary.path,
      pods: scrapedPods(buildDefault()),
      namespace: meshNamespace,
      baselineMs: 8_000,
    });
  if (clusterSkip) return;
  if ('path' in envoyBinary) envoyAdmin = await startEnvoyAdmin(envoyBinary.path, recipeApiOutboundCluster);
  admins['web-api'] = await startPodAdmin('web-api');
  admins['recipe-api'] = await startPodAdmin('recipe-api');
  writeCriLog(sidecarLogFile, [
    sidecarLine('200 - via_upstream -'),
    sidecarLine('503 UC upstream_reset_before_response_started{connection_termination} -'),
    'an Envoy log line, not an access-log line',
  ]);
  // kwok as the nodes' kubelet on 127.0.0.1: each pod's admin port reaches its service's admin
  // server, and each mesh pod's istio-proxy log is the file above (k8s/kube/control-plane.ts).
  const kwok = (kind: string, spec: object) => ({
    apiVersion: 'kwok.x-k8s.io/v1alpha1',
    kind,
    metadata: { name: `test-${kind.toLowerCase()}` },
    spec: { selector: { matchNamespaces: [meshNamespace] }, ...spec },
  });
  platform = await deployedPlatform({
    istio: true,
    kubelet: {
      resources: [
        kwok('ClusterPortForward', {
          forwards: [
            { ports: [9464], target: { port: admins['web-api'].port, address: '127.0.0.1' } },
            { ports: [9465], target: { port: admins['recipe-api'].port, address: '127.0.0.1' } },
            // Every sidecar's Envoy admin (Istio's 15000, on the pod's localhost) is one real Envoy.
            ...(envoyAdmin ? [{ ports: [15000], target: { port: envoyAdmin.port, address: '127.0.0.1' } }] : []),
            // The observability component's Prometheus pod is the Istio-shaped one started above.
            ...(prometheus
              ? [{ ports: [9090], target: { port: Number(new URL(prometheus.url).port), address: '127.0.0.1' } }]
              : []),
          ],
        }),
        kwok('ClusterLogs', { logs: [{ containers: ['istio-proxy'], logsFile: sidecarLogFile }] }),
      ],
    },
  });
});
after(async () => {
  await platform?.stop();
  await prometheus?.stop();
  for (const admin of Object.values(admins)) await admin.stop();
  await envoyAdmin?.stop();
  rmSync(logDir, { recursive: true, force: true });
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

describe('--target k8s reaches every pod of a Deployment on a real API server (kwok serves port-forward and logs on 127.0.0.1)', {
  skip: clusterSkip ?? false,
}, () => {
  const byName = (name: string) => experiments.find((e) => e.name === name)!;
  const kubectlIn = (ns: string) => (args: string[]) =>
    runCommand([
      platform.cluster.kubectlPath,
      '--kubeconfig',
      platform.cluster.kubeconfig,
      '--context',
      platform.cluster.context,
      '-n',
      ns,
      ...args,
    ]);

  test("a Deployment's pods are the ones its own selector matches: both replicas, Running", async () => {
    for (const service of ['web-api', 'recipe-api']) {
      const pods = await podsOfDeployment(kubectlIn(meshNamespace), service);
      const listed = platform.cluster
        .kubectl(['-n', meshNamespace, 'get', 'pods', '-o', 'jsonpath={.items[*].metadata.name}'])
        .split(' ')
        .filter((n) => n.startsWith(`${service}-`))
        .sort();
      assert.equal(pods.length, 2, `${service}: ${JSON.stringify(pods)}`);
      assert.deepEqual(
        pods.map((p) => p.name),
        listed,
      );
    }
  });

  test("503-uc's fault reaches each recipe-api pod through its own port-forward, and its restore each again", async () => {
    const plan = planOn(platform, { e: byName('503-uc'), fix: null });
    const steps = plan.steps.filter((s) => s.kind === 'pod-faults');
    const [put, clear] = [steps.find((s) => s.phase === 'setup')!, steps.find((s) => s.phase === 'restore')!];
    assert.ok(put?.kind === 'pod-faults' && clear?.kind === 'pod-faults');
    const admin = admins['recipe-api']!;
    admin.changes.length = 0;
    const reached = await applyPodFaults(plan, put);
    assert.equal(reached.length, 2);
    // One PUT per pod: on minikube each lands in its own process; here kwok sends both to one.
    assert.deepEqual(admin.changes, [JSON.parse(put.body!), JSON.parse(put.body!)]);
    assert.deepEqual(await applyPodFaults(plan, clear), reached);
    assert.deepEqual(admin.changes.slice(2), [{}, {}]);
    assert.deepEqual(admin.faults.get(), {});
  });

  test("every pod's sidecar log is read with kubectl logs --since-time and counted with the lab's parser", async () => {
    const uc = byName('503-uc');
    const plan = planOn(platform, { e: uc, fix: null });
    const step = plan.steps.find((s) => s.kind === 'access-logs' && s.workload === 'recipe-api');
    assert.ok(step?.kind === 'access-logs');
    const { entries, missing } = await readPodAccessLogs(plan, step, Date.now() - 600_000);
    assert.deepEqual(missing, []);
    assert.equal(Object.keys(entries).length, 2);
    for (const lines of Object.values(entries))
      assert.equal(lines.length, 2, 'the Envoy line is not an access-log line');
    const exact = exactValues(uc.k8s, { accessLogs: { 'recipe-api': entries }, metrics: {}, load: [] });
    assert.equal(exact.ucResets, 2);
    assert.equal(exact.inboundRequests, 4);
  });

  test("rollout-503's incident takes recipe-api's preStop away and sets FAULTS on its pods; the restore gives back the same pod template", async () => {
    const { cluster } = platform;
    const plan = planOn(platform, { e: byName('rollout-503'), fix: null });
    const deployment = (s: K8sStep) => s.kind === 'command' && s.scope === 'deployment';
    const template = () =>
      JSON.parse(cluster.kubectl(['-n', meshNamespace, 'get', 'deployment', 'recipe-api', '-o', 'json'])).spec.template;
    const templates = () =>
      podTemplates(cluster.kubectl(['-n', meshNamespace, 'get', 'deployments', 'web-api', 'recipe-api', '-o', 'json']));
    const before = template();
    const beforeTemplates = templates();
    assert.deepEqual(beforeTemplates['recipe-api/recipe-api'], {
      lifecycle: { preStop: { sleep: { seconds: 3 } } },
      faultsEnv: null,
    });
    try {
      for (const step of plan.steps.filter((s) => deployment(s) && 'phase' in s && s.phase === 'setup'))
        if (step.kind === 'command') await runCommand(step.argv);
      const during = templates()['recipe-api/recipe-api']!;
      assert.equal((during.lifecycle as { preStop?: unknown } | null)?.preStop, undefined);
      assert.deepEqual(JSON.parse(during.faultsEnv ?? 'null'), { gracefulShutdown: false });
    } finally {
      for (const step of plan.steps.filter((s) => deployment(s) && 'phase' in s && s.phase === 'restore'))
        if (step.kind === 'command') await runCommand(step.argv);
    }
    assert.deepEqual(templates(), beforeTemplates);
    assert.deepEqual(template(), before);
  });

  test("503-uc runs from plan to verdict on that cluster: faults on both pods, the load through --ingress, exact counts from every pod's log, PromQL beside them, all restored", {
    skip: prometheusSkip,
  }, async (t) => {
    // The ingress gateway's stand-in answers every request and logs it as recipe-api's sidecar
    // would, one in twenty as the reset the incident is about (kwok serves the file as every mesh
    // pod's istio-proxy log, so each line counts once per pod).
    let answered = 0;
    const logged: string[] = [];
    const gateway = http.createServer((req, res) => {
      answered++;
      logged.push(
        sidecarLine(
          answered % 20 === 0
            ? '503 UC upstream_reset_before_response_started{connection_termination} -'
            : '200 - via_upstream -',
        ),
      );
      writeCriLog(sidecarLogFile, logged);
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => gateway.close(resolve)));
    writeCriLog(sidecarLogFile, []);
    const uc = experiments.find((e) => e.name === '503-uc')!;
    const plan = k8sPlan(uc, {
      fix: null,
      cluster: {
        kubeconfig: platform.cluster.kubeconfig,
        context: platform.cluster.context,
        kubectl: platform.cluster.kubectlPath,
      },
      durationS: 4,
      overlayDir: platform.overlayDir,
      ingress: `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`,
    });
    const admin = admins['recipe-api']!;
    admin.changes.length = 0;
    const lines: string[] = [];
    const run = await runPlan(plan, uc, { log: (l) => lines.push(l) });
    const trace = lines.join('\n');
    const resets = Math.floor(answered / 20);
    assert.ok(resets >= 1, `${answered} requests: too few for a reset\n${trace}`);
    assert.equal(run.verdict?.outcome, 'incident', trace);
    assert.equal(run.code, 0, `${JSON.stringify(run.leftovers.checks.filter((c) => !c.ok))}\n${trace}`);
    const recipePods = (await podsOfDeployment(kubectlIn(meshNamespace), 'recipe-api')).map((p) => p.name);
    assert.deepEqual(
      run.evidence.faultedPods.map((f) => [f.pod, f.phase, f.method]),
      [...recipePods.map((p) => [p, 'setup', 'PUT']), ...recipePods.map((p) => [p, 'restore', 'DELETE'])],
    );
    assert.deepEqual(run.evidence.pods['recipe-api'], recipePods);
    const exact = Object.fromEntries(run.evidence.comparisons.map((c) => [c.key, c.exact]));
    assert.equal(exact.ucResets, 2 * resets);
    assert.equal(exact.inboundRequests, 2 * answered);
    assert.equal(exact.callerNon2xx, 0);
    // PromQL answered beside each count (the stand-in Prometheus' series, not this load's).
    assert.ok(
      run.evidence.comparisons.filter((c) => c.promql).every((c) => c.promqlValue !== null),
      trace,
    );
    // Envoy's retry counters, read from every web-api and recipe-api pod's admin: none moved.
    assert.equal(exact.envoyRetries, 0, trace);
    assert.deepEqual(run.evidence.notes, []);
    assert.deepEqual(admin.faults.get(), {});
    assert.ok(run.leftovers.clean && run.restoreFailures.length === 0);
  });
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
