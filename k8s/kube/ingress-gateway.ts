import type { KubeApi } from './api-client.js';

/**
 * The ingress gateway as `make istio-install` leaves it (the Deployment and Service
 * `istio-ingressgateway` in `istio-system` that `istioctl manifest generate` of
 * istio/install/istio-operator.yaml holds), with the lab's ingress Envoy as what answers: its
 * Service's `http2` port becomes the lab ingress' port and its load-balancer status the lab
 * ingress' loopback address, so the k8s target finds the ingress exactly as on minikube after
 * `minikube tunnel` (experiments/src/k8s-ingress.ts reads `status.loadBalancer.ingress` and the
 * `http2` port). No cloud controller runs here to overwrite the status.
 */
export const ingressGateway = {
  namespace: 'istio-system',
  name: 'istio-ingressgateway',
  app: 'istio-ingressgateway',
} as const;

interface ServicePort {
  name?: string;
  port: number;
}

export async function pointIngressGatewayAt(api: KubeApi, labIngressPort: number): Promise<string> {
  const path = `/api/v1/namespaces/${ingressGateway.namespace}/services/${ingressGateway.name}`;
  const service = await api.get<{ spec: { ports: ServicePort[] } }>(path);
  if (!service.spec.ports.some((p) => p.name === 'http2'))
    throw new Error(`${ingressGateway.namespace}/${ingressGateway.name} has no http2 port`);
  const ports = service.spec.ports.map((p) => (p.name === 'http2' ? { ...p, port: labIngressPort } : p));
  await api.mergePatch(path, { spec: { ports } });
  await api.mergePatch(`${path}/status`, {
    status: { loadBalancer: { ingress: [{ ip: '127.0.0.1', ipMode: 'VIP' }] } },
  });
  return `http://127.0.0.1:${labIngressPort}`;
}
