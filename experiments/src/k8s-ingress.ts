/**
 * Where the k8s load enters: Istio's ingress gateway, as a user's traffic does, never a
 * port-forward to a Service (which lands in the pod past its sidecar's inbound capture). The
 * address is the istio-ingressgateway Service's load-balancer status (`minikube tunnel` fills it,
 * docs/kubernetes.md) and the port its `http2` port (Istio's gateway chart names it so, port 80),
 * or what `--ingress` gives.
 */

interface ServiceJson {
  metadata?: { name?: string; namespace?: string };
  spec?: { ports?: { name?: string; port: number }[] };
  status?: { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] } };
}

/** `kubectl get service istio-ingressgateway -o json` → `http://<address>[:port]`; throws with what to do when it has none. */
export function ingressUrl(serviceJson: string): string {
  const service = JSON.parse(serviceJson) as ServiceJson;
  const entry = service.status?.loadBalancer?.ingress?.[0];
  const host = entry?.ip ?? entry?.hostname;
  const name = `${service.metadata?.namespace ?? '?'}/${service.metadata?.name ?? '?'}`;
  if (!host)
    throw new Error(
      `service ${name} has no load-balancer address: run \`minikube tunnel\` (docs/kubernetes.md), or pass --ingress http://<address>:<port>`,
    );
  const ports = service.spec?.ports ?? [];
  const port = (ports.find((p) => p.name === 'http2') ?? ports.find((p) => p.name === 'http') ?? { port: 80 }).port;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return port === 80 ? `http://${hostPart}` : `http://${hostPart}:${port}`;
}

/** `--ingress` as given: an origin (scheme, host, port), nothing else. */
export function parseIngressFlag(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`--ingress ${value}: expected http://<address>[:port]`);
  }
  if (url.protocol !== 'http:' || url.pathname !== '/' || url.search)
    throw new Error(`--ingress ${value}: expected http://<address>[:port]`);
  return url.origin;
}
