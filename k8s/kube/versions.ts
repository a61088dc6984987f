/**
 * What the local control plane (docs/kubernetes.md, "A real API server without containers") is
 * built from: every binary comes from the Go module proxy at these versions and is cached per version.
 * Kubernetes has the minor version `make minikube-up` pins (make/k8s.mk, MINIKUBE_K8S_VERSION;
 * k8s/test/kube-versions.test.ts keeps them together).
 */
export const pins = {
  kubernetes: 'v1.34.4',
  /** The staging modules (k8s.io/api, client-go, …) are published as v0.<minor>.<patch>. */
  kubernetesStaging: 'v0.34.4',
  /** kubeadm's pin for Kubernetes 1.34. */
  etcd: 'v3.6.5',
  kwok: 'v0.8.0',
  /**
   * The proxy serves istio.io/istio only as pseudo-versions of its main branch (1.31-dev), not the
   * 1.30.5 tag `make istio-install` pins; this is the one CI uses.
   */
  istio: 'v0.0.0-20260827124520-eed52ebb66ad',
  kubeScore: 'v1.20.0',
} as const;

/** The kubeconfig context `make kube-up` writes, and the tests use. */
export const contextName = 'recipe-mesh-test';
