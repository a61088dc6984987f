import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { installedImageNode } from '@recipe-mesh/measure/image-node';

/**
 * The node flags a service's pod starts with: `NODE_OPTIONS` of its container in
 * k8s/base/deployment-<service>.yaml (the V8 heap caps sized with the memory limits there), so
 * the bench measures the process a pod runs rather than Node's defaults on a large machine,
 * whose heap limit follows the host's memory, not a container's.
 */
export function deploymentNodeOptions(root: string, service: 'web-api' | 'recipe-api'): string[] {
  const file = path.join(root, 'k8s/base', `deployment-${service}.yaml`);
  const deployment = parse(readFileSync(file, 'utf8')) as {
    spec: { template: { spec: { containers: { name: string; env?: { name: string; value?: string }[] }[] } } };
  };
  const container = deployment.spec.template.spec.containers.find((c) => c.name === service);
  const value = container?.env?.find((e) => e.name === 'NODE_OPTIONS')?.value;
  return value ? value.split(/\s+/).filter(Boolean) : [];
}

/**
 * A service started as its image's ENTRYPOINT starts it (the Dockerfile: telemetry through
 * `--import`, compiled dist/), with `nodeFlags` in front: by default its pod's NODE_OPTIONS; on
 * `node`, by default the Node the images run (measure/src/image-node.ts).
 */
export function imageCommand(
  root: string,
  service: 'web-api' | 'recipe-api',
  nodeFlags: string[] = deploymentNodeOptions(root, service),
  node: string = installedImageNode().path,
): { command: string; args: string[] } {
  return {
    command: node,
    args: [...nodeFlags, '--import', '@recipe-mesh/platform/telemetry', `services/${service}/dist/main.js`],
  };
}
