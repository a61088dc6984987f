import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '@recipe-mesh/measure/repo';

/**
 * The one namespace setting: the one `k8s/base/kustomization.yaml` puts every object in
 * (`namespace:`). The lab names its services after it (tracing service `recipe-api.<ns>`, clusters
 * `outbound|4000||recipe-api.<ns>.svc.cluster.local`) so logs and traces read alike in the lab and
 * on Kubernetes, and `--target k8s` derives its hosts, PromQL and kubectl commands from it.
 */

export function manifestNamespace(root = repoRoot): string {
  const file = path.join(root, 'k8s/base/kustomization.yaml');
  const doc = parse(readFileSync(file, 'utf8')) as { namespace?: unknown };
  if (typeof doc.namespace !== 'string' || !doc.namespace)
    throw new Error(
      `${path.relative(root, file)} sets no namespace: the lab and the experiments derive theirs from it`,
    );
  return doc.namespace;
}

export const meshNamespace = manifestNamespace();

/** `recipe-api.recipe-mesh.svc.cluster.local`: a Service's in-cluster host, as Istio names clusters. */
export function serviceHost(service: string, namespace = meshNamespace): string {
  return `${service}.${namespace}.svc.cluster.local`;
}

/** Istio's tracing service name of a workload's sidecar: `recipe-api.recipe-mesh`. */
export function sidecarServiceName(service: string, namespace = meshNamespace): string {
  return `${service}.${namespace}`;
}
