import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { meshNamespace } from '@recipe-mesh/measure/mesh-namespace';
import { parseYamlDocuments, type RenderedObject } from '@recipe-mesh/lab/workloads/kustomize';
import { parse, stringify } from 'yaml';

/**
 * What Istio's injection webhook does on minikube, done by the pinned istioctl for a local
 * control plane that runs no webhook: `istioctl manifest generate -f istio/install/istio-operator.yaml`
 * gives the injector's template, values and mesh config (its ConfigMaps `istio-sidecar-injector` and
 * `istio`), and `istioctl kube-inject` with them renders the Deployments as the webhook would admit
 * their pods (an `istio-proxy` native sidecar, `istio-init`). Always with an explicit kubeconfig:
 * without one istioctl falls back to http://localhost:8080, the lab ingress' port.
 */

/** Runs the pinned istioctl against one cluster: status, stdout, stderr. */
export type Istioctl = (args: string[], input?: string) => { status: number | null; stdout: string; stderr: string };

export function istioctlFor(binary: string, kubeconfig: string, context: string): Istioctl {
  return (args, input) => {
    const result = spawnSync(binary, [...args, '--kubeconfig', kubeconfig, '--context', context], {
      encoding: 'utf8',
      input,
      maxBuffer: 64 << 20,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };
}

export interface InjectorFiles {
  inject: string;
  values: string;
  mesh: string;
}

/** Istio's control-plane objects as the install config generates them. */
export function generatedControlPlane(istioctl: Istioctl, root: string): RenderedObject[] {
  const generated = istioctl(['manifest', 'generate', '-f', path.join(root, 'istio/install/istio-operator.yaml')]);
  if (generated.status !== 0) throw new Error(`istioctl manifest generate failed:\n${generated.stderr}`);
  return parseYamlDocuments(generated.stdout);
}

/** The injector's files for kube-inject, from the generated control plane, written to `dir`. */
export function injectorFiles(controlPlane: RenderedObject[], dir: string): InjectorFiles {
  const data = (name: string) =>
    (controlPlane.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name) as { data?: Record<string, string> })
      ?.data;
  const injector = data('istio-sidecar-injector');
  const mesh = data('istio');
  if (!injector?.config || !injector.values || !mesh?.mesh)
    throw new Error('istioctl manifest generate gave no istio-sidecar-injector or istio ConfigMap');
  const files = {
    inject: path.join(dir, 'inject.yaml'),
    values: path.join(dir, 'values.json'),
    mesh: path.join(dir, 'mesh.yaml'),
  };
  writeFileSync(files.inject, injector.config);
  writeFileSync(files.values, injector.values);
  writeFileSync(files.mesh, mesh.mesh);
  return files;
}

/** The mesh namespace's Deployments of `rendered`, as `istioctl kube-inject` renders them. */
export function injectedDeployments(
  istioctl: Istioctl,
  files: InjectorFiles,
  rendered: RenderedObject[],
): RenderedObject[] {
  const deployments = rendered.filter((o) => o.kind === 'Deployment' && o.metadata.namespace === meshNamespace);
  const injected = istioctl(
    [
      'kube-inject',
      '-f',
      '-',
      '--injectConfigFile',
      files.inject,
      '--valuesFile',
      files.values,
      '--meshConfigFile',
      files.mesh,
      '--revision',
      'default',
    ],
    deployments.map((d) => stringify(d)).join('---\n'),
  );
  if (injected.status !== 0) throw new Error(`istioctl kube-inject failed:\n${injected.stderr}`);
  return parseYamlDocuments(injected.stdout);
}

/**
 * The field manager the injected Deployments are applied with: the webhook's changes are not the
 * manifests', so a later `make deploy` or `make fault` (manager kubectl) leaves the sidecar it
 * does not own in place.
 */
export const injectorFieldManager = 'istio-sidecar-injector';

/**
 * Injection without the two pod-template rewrites that fight the manifests: the readiness,
 * liveness and startup probes moved to pilot-agent's `/app-health/…` (`rewriteAppHTTPProbe`), and
 * the `prometheus.io/*` annotations moved to the merged-metrics port (`enablePrometheusMerge`).
 * The webhook injects pods, so on minikube `make deploy` and `make fault` re-apply an untouched
 * Deployment; here the Deployment itself carries the injection, and re-applying the manifests
 * (field manager kubectl, `--force-conflicts`) would put those fields back, change the template
 * and roll every pod mid-experiment. The lab probes the app's own path and scrapes its own admin
 * port either way.
 */
export function withoutTemplateRewrites(files: InjectorFiles): InjectorFiles {
  const values = JSON.parse(readFileSync(files.values, 'utf8')) as {
    sidecarInjectorWebhook?: { rewriteAppHTTPProbe?: boolean };
  };
  values.sidecarInjectorWebhook = { ...values.sidecarInjectorWebhook, rewriteAppHTTPProbe: false };
  writeFileSync(files.values, JSON.stringify(values));
  const mesh = parse(readFileSync(files.mesh, 'utf8')) as Record<string, unknown>;
  writeFileSync(files.mesh, stringify({ ...mesh, enablePrometheusMerge: false }));
  return files;
}

/** kubectl's arguments that wait for every Deployment of the platform to have rolled out. */
export function meshRolloutStatus(timeout: string): string[] {
  return [
    '-n',
    meshNamespace,
    'rollout',
    'status',
    'deployment',
    '-l',
    'app.kubernetes.io/part-of=recipe-mesh',
    `--timeout=${timeout}`,
  ];
}
