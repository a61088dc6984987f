import { credentials, Client, type ClientDuplexStream } from '@grpc/grpc-js';
import protobuf from 'protobufjs';

/**
 * A minimal xDS client: it opens istiod's Aggregated Discovery Service stream as one proxy (its
 * node id and metadata, as pilot-agent presents them) and subscribes to clusters, which makes
 * istiod register the connection. It never decodes what istiod sends: the test reads the
 * configuration istiod generates for that connection from istiod's own debug endpoint
 * (`/debug/config_dump?proxyID=<pod>.<namespace>`, istio/istio pilot/pkg/xds/debug.go), which
 * answers only for connected proxies and renders the Envoy admin ConfigDump JSON. That keeps the
 * Envoy API's hundreds of message types out of this repository, and nothing is sent to the
 * endpoints (pod IPs) the configuration names.
 */

// Only the fields this client writes, with their numbers from envoy/config/core/v3/base.proto
// (Node) and envoy/service/discovery/v3/discovery.proto (DiscoveryRequest).
const root = protobuf.Root.fromJSON(protobuf.common.get('google/protobuf/struct.proto') ?? {});
protobuf.parse(
  `
syntax = "proto3";
message Node { string id = 1; string cluster = 2; google.protobuf.Struct metadata = 3; }
message DiscoveryRequest {
  string version_info = 1;
  Node node = 2;
  repeated string resource_names = 3;
  string type_url = 4;
  string response_nonce = 5;
}
`,
  root,
);
const discoveryRequest = root.lookupType('DiscoveryRequest');
const adsMethod = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const types = {
  clusters: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  listeners: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  routes: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
};

type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** google.protobuf.Value in protobufjs' object form, from plain JSON. */
function structValue(value: JsonValue): Record<string, unknown> {
  if (value === null) return { nullValue: 0 };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(structValue) } };
  return { structValue: struct(value) };
}

function struct(object: { [key: string]: JsonValue }): Record<string, unknown> {
  return { fields: Object.fromEntries(Object.entries(object).map(([k, v]) => [k, structValue(v)])) };
}

export interface ProxyNode {
  /** Istio's node id: `<sidecar|router>~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local`. */
  id: string;
  /** The service cluster pilot-agent reports: `<app>.<namespace>`. */
  cluster: string;
  /** Node metadata (pilot-agent's ISTIO_META_* and the pod's labels, namespace, ...). */
  metadata: { [key: string]: JsonValue };
}

/** The id istiod's debug endpoints take for a node: `<pod>.<namespace>`. */
export function proxyId(node: ProxyNode): string {
  const id = node.id.split('~')[2];
  if (!id) throw new Error(`not an Istio node id: ${node.id}`);
  return id;
}

export interface XdsConnection {
  close(): void;
}

/**
 * Connects to istiod's plaintext xDS port (127.0.0.1) as `node` and subscribes to its clusters,
 * listeners and the route configurations `routeNames`; istiod has the connection once its debug
 * endpoints list it (poll them).
 */
export function connectProxy(
  address: string,
  node: ProxyNode,
  routeNames: string[],
  onError: (error: Error) => void,
): XdsConnection {
  const client = new Client(address, credentials.createInsecure());
  const stream: ClientDuplexStream<Buffer, Buffer> = client.makeBidiStreamRequest(
    adsMethod,
    (message: Buffer) => message,
    (bytes: Buffer) => bytes,
  );
  let closing = false;
  stream.on('data', () => {});
  stream.on('error', (error: Error) => {
    if (!closing) onError(error);
  });
  // istiod's config dump holds what the connection subscribed to (its watched resources):
  // every cluster and listener, and the route configurations asked for by name (those the
  // listeners name, which this client does not decode).
  const requests = [
    { typeUrl: types.clusters, resourceNames: [] as string[] },
    { typeUrl: types.listeners, resourceNames: [] },
    { typeUrl: types.routes, resourceNames: routeNames },
  ];
  for (const [i, { typeUrl, resourceNames }] of requests.entries()) {
    const request = discoveryRequest.fromObject({
      // The node goes in the first request only, as Envoy sends it.
      ...(i === 0 ? { node: { id: node.id, cluster: node.cluster, metadata: struct(node.metadata) } } : {}),
      typeUrl,
      resourceNames,
    });
    stream.write(Buffer.from(discoveryRequest.encode(request).finish()));
  }
  return {
    close() {
      closing = true;
      stream.cancel();
      client.close();
    },
  };
}
