/**
 * docs/kubernetes.md stays in step with make/k8s.mk: every documented-for-users target appears,
 * and the pinned versions it tells people to install are the ones the Makefile enforces.
 */
export function docsProblems(doc: string, makefile: string, vars: Record<string, string>): string[] {
  const problems: string[] = [];
  const targets = [...makefile.matchAll(/^([a-z0-9-]+):[^#\n]*## /gm)].map((m) => m[1]!);
  for (const target of targets)
    if (!doc.includes(`make ${target}`)) problems.push(`docs/kubernetes.md: never shows make ${target}`);
  for (const name of ['ISTIO_VERSION', 'MINIKUBE_K8S_VERSION'] as const) {
    const value = vars[name];
    const mentioned = [
      ...doc.matchAll(
        name === 'ISTIO_VERSION' ? /ISTIO_VERSION=(\d+\.\d+\.\d+)/g : /--kubernetes-version=(v\d+\.\d+\.\d+)/g,
      ),
    ].map((m) => m[1]);
    if (mentioned.length === 0 || mentioned.some((v) => v !== value))
      problems.push(`docs/kubernetes.md: ${name} should read ${value}, it reads ${mentioned.join(', ') || 'nothing'}`);
  }
  for (const must of ['minikube tunnel', 'Apple Silicon', 'make fault FAULT=']) {
    if (!doc.includes(must)) problems.push(`docs/kubernetes.md: says nothing about ${must}`);
  }
  return problems;
}

/** `250ms` → `250 ms`, `3s` → `3 s`: an Istio duration as the docs write it. */
export function spokenDuration(istioDuration: string): string {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(istioDuration);
  if (!match) throw new Error(`not an Istio duration: ${istioDuration}`);
  return `${match[1]} ${match[2]}`;
}

/**
 * The `make fault` table's row for a component must give the value the component sets, e.g.
 * `idle-timeout` → the idleTimeout its patch writes (istio/faults/<component>/kustomization.yaml).
 */
export function faultRowProblems(doc: string, component: string, value: string): string[] {
  const row = doc.split('\n').find((l) => l.startsWith(`| \`${component}\` |`));
  if (!row) return [`docs/kubernetes.md: no row for the ${component} component`];
  const spoken = spokenDuration(value);
  return row.includes(`→ ${spoken}`)
    ? []
    : [`docs/kubernetes.md: the ${component} row should give ${spoken} (the component's ${value}): ${row}`];
}

/**
 * Labels Kubernetes sets itself, so no manifest of ours needs to: the EndpointSlice controller
 * labels each slice with its Service (kubernetes.io/service-name, "EndpointSlices" in the
 * Kubernetes docs).
 */
const systemLabels = new Set(['kubernetes.io/service-name']);

/** `-l key=value` / `--selector key=value` hints whose label no rendered object carries. */
export function selectorProblems(
  texts: Array<{ file: string; text: string }>,
  objects: Array<{ metadata?: { labels?: Record<string, string> }; spec?: any }>,
): string[] {
  const set = new Set(
    objects.flatMap((o) =>
      [o.metadata?.labels, o.spec?.template?.metadata?.labels].flatMap((labels) =>
        Object.entries(labels ?? {}).map(([k, v]) => `${k}=${v}`),
      ),
    ),
  );
  const problems: string[] = [];
  for (const { file, text } of texts)
    for (const m of text.matchAll(/(?:-l|--selector)[ =]([\w./-]+=[\w.-]+(?:,[\w./-]+=[\w.-]+)*)/g))
      for (const pair of m[1]!.split(','))
        if (!set.has(pair) && !systemLabels.has(pair.split('=')[0]!))
          problems.push(`${file}: selects ${pair}, which no manifest sets`);
  return problems;
}
