import type { KubeApi } from './api-client.js';

/**
 * The ingress gateway as `make istio-install` leaves it (Istio's gateway chart: Deployment and
 * Service `istio-ingressgateway` in `istio-system`, labels `app`/`istio`, the `http2` port), with
 * the lab's ingress Envoy as what answers: the Service's load-balancer status names the lab
 * ingress' loopback address and its `http2` port is the lab ingress' port, so the k8s target finds
 * the ingress exactly as on minikube after `minikube tunnel` (experiments/src/k8s-ingress.ts reads
 * `status.loadBalancer.ingress` and the `http2` port). kwok runs the gateway's pod (its Stages);
 * no cloud controller runs to overwrite the status.
 */
export const ingressGateway = { namespace: 'istio-system', name: 'istio-ingressgateway' } as const;

const labels = { app: 'istio-ingressgateway', istio: 'ingressgateway' };

export async function applyIngressGateway(api: KubeApi, labIngressPort: number): Promise<void> {
  const { namespace, name } = ingressGateway;
  const manager = 'recipe-mesh-cluster';
  await api.apply(
    `/api/v1/namespaces/${namespace}`,
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    manager,
  );
  await api.apply(
    `/apis/apps/v1/namespaces/${namespace}/deployments/${name}`,
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            containers: [
              {
                name: 'istio-proxy',
                image: 'docker.io/istio/proxyv2:1.30.5',
                ports: [
                  { name: 'http2', containerPort: 8080 },
                  { name: 'http-envoy-prom', containerPort: 15090 },
                ],
              },
            ],
          },
        },
      },
    },
    manager,
  );
  await api.apply(
    `/api/v1/namespaces/${namespace}/services/${name}`,
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace, labels },
      spec: {
        type: 'LoadBalancer',
        selector: labels,
        ports: [{ name: 'http2', port: labIngressPort, targetPort: 8080, protocol: 'TCP' }],
      },
    },
    manager,
  );
  await api.mergePatch(`/api/v1/namespaces/${namespace}/services/${name}/status`, {
    status: { loadBalancer: { ingress: [{ ip: '127.0.0.1', ipMode: 'VIP' }] } },
  });
}
