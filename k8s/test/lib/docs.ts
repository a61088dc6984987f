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
