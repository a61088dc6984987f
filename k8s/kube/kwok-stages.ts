import { readFileSync, writeFileSync } from 'node:fs';
import { parseAllDocuments, stringify } from 'yaml';

/**
 * kwok's `pod-fast` Stages (kustomize/stage/pod/fast in sigs.k8s.io/kwok: Running and Ready at
 * once, deleted at once when deleting) for every pod except those a data plane runs
 * (data-plane.ts): for those, readiness comes from a real probe of a real process and deletion
 * waits for it to stop, so kwok must not mark them Ready or delete them itself. The exclusion is
 * one more requirement in each Stage's selector (kwok's `NotIn`; a pod without the label matches,
 * pkg/utils/expression/selector.go).
 */
export function writePodStagesExcept(
  podFast: string,
  out: string,
  label: { key: string; values: readonly string[] },
): string {
  const stages = parseAllDocuments(readFileSync(podFast, 'utf8')).map((d) => d.toJS()) as {
    spec: { selector?: { matchExpressions?: object[] } };
  }[];
  for (const stage of stages) {
    stage.spec.selector ??= {};
    stage.spec.selector.matchExpressions = [
      ...(stage.spec.selector.matchExpressions ?? []),
      { key: `.metadata.labels.${label.key}`, operator: 'NotIn', values: [...label.values] },
    ];
  }
  writeFileSync(out, stages.map((s) => stringify(s)).join('---\n'));
  return out;
}
