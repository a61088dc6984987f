import {
  app,
  namespaceVariable,
  quantile,
  ratio,
  serviceVariable,
  type DashboardSpec,
  type PanelSpec,
  type VariableSpec,
} from './dashboard-kit.js';

/**
 * The five dashboards, as data. `write-dashboards.ts` turns them into grafana/dashboards/*.json
 * (what Grafana provisions) and grafana/kubernetes-only.json; the checks in grafana/test read those
 * files, not this module.
 */

const RI = '$__rate_interval';
const HTTP = 'http_server_request_duration_seconds';
const ISTIO_ONLY = 'Istio telemetry (istio_* metrics) exists only on Kubernetes; the lab has no Istio';

const appVariables: VariableSpec[] = [
  namespaceVariable('http_server_request_duration_seconds_count'),
  serviceVariable('http_server_request_duration_seconds_count'),
];
const clusterVariable: VariableSpec = {
  name: 'cluster',
  label: 'Envoy cluster',
  query: 'label_values(envoy_cluster_upstream_rq_total{namespace=~"$namespace"}, cluster_name)',
};

/** Envoy's own stats: the lab's sidecars and, with proxyStatsMatcher, Istio's. */
function envoy(metric: string, extra = ''): string {
  return `${metric}{namespace=~"$namespace", cluster_name=~"$cluster"${extra ? `, ${extra}` : ''}}`;
}
const envoyRate = (metric: string, extra = '') => `sum by (cluster_name) (rate(${envoy(metric, extra)}[${RI}]))`;

// ---------------------------------------------------------------------------------------------
// Services (RED)

const latencyTargets = (bucket: string, by: string, legend: string) =>
  [0.5, 0.95, 0.99].map((q) => ({
    expr: quantile(q, `${bucket}${app()}`, by),
    legend: `p${q * 100} ${legend}`,
    exemplar: true,
  }));

export const services: DashboardSpec = {
  uid: 'recipe-mesh-services',
  title: 'recipe-mesh / Services (RED)',
  description:
    "Rate, errors and duration of web-api and recipe-api per route and protocol (REST, GraphQL, gRPC), and web-api's upstream calls per `via`.",
  tags: ['recipe-mesh', 'red'],
  variables: appVariables,
  sections: [
    {
      row: 'HTTP server (both services)',
      panels: [
        {
          title: 'Request rate by service',
          unit: 'reqps',
          description:
            'Requests per second the Node process answered (http_server_request_duration_seconds). Bad: a drop while clients still send load means requests end before the app, e.g. at the sidecar (503-uc: the proxy answers 503 UC and the app never sees the request, compare the Mesh dashboard).',
          targets: [{ expr: `sum by (service) (rate(${HTTP}_count${app()}[${RI}]))`, legend: '{{service}}' }],
        },
        {
          title: '5xx ratio by service',
          unit: 'percentunit',
          min: 0,
          thresholds: [{ value: 0.01, color: 'red' }],
          description:
            'Share of responses with a 5xx status as the app itself counted them. Bad: above 1%. The 503-uc incident barely moves this panel, because the 503s are produced by Envoy: a low value here with 503s at the client points at the mesh.',
          targets: [{ expr: ratio(`${HTTP}_count`, 'status_code=~"5.."', 'service'), legend: '{{service}}' }],
        },
        {
          title: 'Latency p50 / p95 / p99 by service',
          unit: 's',
          min: 0,
          description:
            "Server-side duration quantiles; the dots are exemplars that open the trace in Tempo. Bad: p99 far above p50 or above the 250 ms SLO. redis-scan-latency raises recipe-api's p99 while SCANs run; upload-oom raises it through GC pauses.",
          targets: latencyTargets(`${HTTP}_bucket`, 'service', '{{service}}'),
          width: 8,
        },
      ],
    },
    {
      row: 'HTTP routes',
      panels: [
        {
          title: 'Request rate by route and status',
          unit: 'reqps',
          description:
            'Requests per second per route template and status code. Bad: a new 5xx or 499-like status on one route, e.g. the export route during client-abort-leak.',
          targets: [
            {
              expr: `sum by (service, method, route, status_code) (rate(${HTTP}_count${app()}[${RI}]))`,
              legend: '{{service}} {{method}} {{route}} {{status_code}}',
            },
          ],
        },
        {
          title: '5xx ratio by route',
          unit: 'percentunit',
          min: 0,
          thresholds: [{ value: 0.01, color: 'red' }],
          description:
            'Share of 5xx per route. Bad: above 1% on any route; the route tells which handler or upstream fails (web-api routes fail with 502/503/504 when recipe-api is unreachable).',
          targets: [
            { expr: ratio(`${HTTP}_count`, 'status_code=~"5.."', 'service, route'), legend: '{{service}} {{route}}' },
          ],
        },
        {
          title: 'Latency p99 by route',
          unit: 's',
          min: 0,
          description:
            'p99 per route template with exemplars (click one to open its trace in Tempo). Bad: one route far above the others; /recipes/:id on recipe-api in redis-scan-latency, POST upload routes in upload-oom.',
          targets: [
            {
              expr: quantile(0.99, `${HTTP}_bucket${app()}`, 'service, route'),
              legend: 'p99 {{service}} {{route}}',
              exemplar: true,
            },
          ],
        },
      ],
    },
    {
      row: 'GraphQL operations (recipe-api)',
      panels: [
        {
          title: 'GraphQL operation rate by operation and outcome',
          unit: 'ops',
          description:
            'GraphQL operations per second per operation name and outcome. Bad: outcome=error growing; `anonymous` operations are clients that send no operation name.',
          targets: [
            {
              expr: `sum by (service, operation_name, operation_type, outcome) (rate(graphql_operation_duration_seconds_count${app()}[${RI}]))`,
              legend: '{{operation_type}} {{operation_name}} {{outcome}}',
            },
          ],
        },
        {
          title: 'GraphQL error ratio by operation',
          unit: 'percentunit',
          min: 0,
          thresholds: [{ value: 0.01, color: 'red' }],
          description:
            'Share of GraphQL operations that answered with errors (HTTP 200 with `errors`, so the HTTP 5xx panel cannot see them). Bad: above 1%.',
          targets: [
            {
              expr: ratio('graphql_operation_duration_seconds_count', 'outcome="error"', 'service, operation_name'),
              legend: '{{operation_name}}',
            },
          ],
        },
        {
          title: 'GraphQL latency p99 by operation',
          unit: 's',
          min: 0,
          description:
            'p99 per GraphQL operation with exemplars. Bad: above the 250 ms SLO; a cache miss storm (redis-scan-latency) shows here for `recipe`.',
          targets: [
            {
              expr: quantile(0.99, `graphql_operation_duration_seconds_bucket${app()}`, 'service, operation_name'),
              legend: 'p99 {{operation_name}}',
              exemplar: true,
            },
          ],
        },
      ],
    },
    {
      row: 'gRPC methods',
      panels: [
        {
          title: 'gRPC rate by method and code',
          unit: 'reqps',
          description:
            'gRPC calls per second: recipe-api as server, web-api as client. Bad: codes other than OK/NOT_FOUND, e.g. UNAVAILABLE when the HTTP/2 connection through the sidecar is reset.',
          targets: [
            {
              expr: `sum by (service, grpc_method, grpc_code) (rate(grpc_server_handling_seconds_count${app()}[${RI}]))`,
              legend: 'server {{grpc_method}} {{grpc_code}}',
            },
            {
              expr: `sum by (service, grpc_method, grpc_code) (rate(grpc_client_handling_seconds_count${app()}[${RI}]))`,
              legend: 'client {{grpc_method}} {{grpc_code}}',
            },
          ],
        },
        {
          title: 'gRPC error ratio by method',
          unit: 'percentunit',
          min: 0,
          thresholds: [{ value: 0.01, color: 'red' }],
          description:
            'Share of gRPC calls that ended with a code other than OK or NOT_FOUND (NOT_FOUND is a normal answer). Bad: above 1%.',
          targets: [
            {
              expr: ratio('grpc_server_handling_seconds_count', 'grpc_code!~"OK|NOT_FOUND"', 'service, grpc_method'),
              legend: 'server {{grpc_method}}',
            },
            {
              expr: ratio('grpc_client_handling_seconds_count', 'grpc_code!~"OK|NOT_FOUND"', 'service, grpc_method'),
              legend: 'client {{grpc_method}}',
            },
          ],
        },
        {
          title: 'gRPC latency p99 by method',
          unit: 's',
          min: 0,
          description:
            'p99 per gRPC method, server side (recipe-api) and client side (web-api), with exemplars. Bad: client p99 much higher than server p99 = time lost in the mesh or in retries.',
          targets: [
            {
              expr: quantile(0.99, `grpc_server_handling_seconds_bucket${app()}`, 'service, grpc_method'),
              legend: 'p99 server {{grpc_method}}',
              exemplar: true,
            },
            {
              expr: quantile(0.99, `grpc_client_handling_seconds_bucket${app()}`, 'service, grpc_method'),
              legend: 'p99 client {{grpc_method}}',
              exemplar: true,
            },
          ],
        },
      ],
    },
    {
      row: 'Upstream calls from web-api',
      panels: [
        {
          title: 'Upstream call rate by via and outcome',
          unit: 'reqps',
          description:
            'web-api → recipe-api calls per second per protocol (`via`) and outcome. Bad: outcome unavailable or server_error; in 503-uc the http and graphql paths get 503s from the sidecar (outcome server_error) while grpc does not.',
          targets: [
            {
              expr: `sum by (service, via, outcome) (rate(upstream_request_duration_seconds_count${app()}[${RI}]))`,
              legend: '{{via}} {{outcome}}',
            },
          ],
        },
        {
          title: 'Upstream failure ratio by via',
          unit: 'percentunit',
          min: 0,
          thresholds: [{ value: 0.01, color: 'red' }],
          description:
            "Share of upstream calls that failed for a reason other than a client error (server_error, timeout, unavailable). Bad: above 1%; this is what the end user feels of 503-uc after web-api's own retries.",
          targets: [
            {
              expr: ratio(
                'upstream_request_duration_seconds_count',
                'outcome=~"server_error|timeout|unavailable"',
                'service, via',
              ),
              legend: '{{via}}',
            },
          ],
        },
        {
          title: 'Upstream latency p50 / p99 by via',
          unit: 's',
          min: 0,
          description:
            "Duration of web-api's calls to recipe-api per protocol, with exemplars. Bad: p99 near UPSTREAM_TIMEOUT_MS (2 s by default) = calls about to time out; retries hide 503 UC but show up here as added latency.",
          targets: [
            {
              expr: quantile(0.5, `upstream_request_duration_seconds_bucket${app()}`, 'service, via'),
              legend: 'p50 {{via}}',
              exemplar: true,
            },
            {
              expr: quantile(0.99, `upstream_request_duration_seconds_bucket${app()}`, 'service, via'),
              legend: 'p99 {{via}}',
              exemplar: true,
            },
          ],
        },
      ],
    },
  ],
};

// ---------------------------------------------------------------------------------------------
// Mesh

/** Envoy counters behind Istio's response flags (Envoy docs: cluster statistics, response flags). */
const flagTargets = [
  { flag: 'UC', metric: 'envoy_cluster_upstream_cx_destroy_remote_with_active_rq' },
  { flag: 'UF', metric: 'envoy_cluster_upstream_cx_connect_fail' },
  { flag: 'UH', metric: 'envoy_cluster_upstream_cx_none_healthy' },
  { flag: 'UO', metric: 'envoy_cluster_upstream_rq_pending_overflow' },
  { flag: 'URX', metric: 'envoy_cluster_upstream_rq_retry_limit_exceeded' },
  { flag: 'UT', metric: 'envoy_cluster_upstream_rq_timeout' },
].map(({ flag, metric }) => ({ expr: envoyRate(metric), legend: `${flag} {{cluster_name}}` }));

export const ucPanel: PanelSpec = {
  title: '503 UC: upstream closed the connection with a request in flight',
  unit: 'reqps',
  min: 0,
  thresholds: [{ value: 0.001, color: 'red' }],
  description:
    "Responses with flag UC (upstream connection termination) per workload. Bad: anything above 0. The 503-uc experiment shows it: the app's keep-alive timeout (Node 5 s) is shorter than the sidecar's idle timeout (Istio 1 h), so Envoy reuses a socket the app just closed. Lab: Envoy's upstream_cx_destroy_remote_with_active_rq on the inbound cluster counts the same event.",
  targets: [
    {
      expr: `sum by (destination_workload) (rate(istio_requests_total{destination_workload_namespace=~"$namespace", response_code="503", response_flags="UC"}[${RI}]))`,
      legend: 'UC {{destination_workload}}',
      kubernetesOnly: ISTIO_ONLY,
    },
    {
      expr: envoyRate('envoy_cluster_upstream_cx_destroy_remote_with_active_rq'),
      legend: 'UC {{cluster_name}} (Envoy stats)',
    },
  ],
  width: 12,
};

export const mesh: DashboardSpec = {
  uid: 'recipe-mesh-mesh',
  title: 'recipe-mesh / Mesh',
  description:
    'What the sidecars saw: responses by code and Istio response flag, retries, upstream resets and idle-timeout closes. Istio panels (istio_*) have an Envoy-stats twin that also works in the lab.',
  tags: ['recipe-mesh', 'mesh', 'istio', 'envoy'],
  variables: [namespaceVariable('envoy_cluster_upstream_rq_total'), clusterVariable],
  sections: [
    {
      row: 'Responses (Istio telemetry; Envoy cluster stats in the lab)',
      panels: [
        {
          title: 'Requests by response code per workload',
          unit: 'reqps',
          description:
            "Requests per second per destination workload and response code as the sidecars report them. Bad: 503 or 504 where the app's own RED panels show none: the proxy produced the error (503-uc).",
          targets: [
            {
              expr: `sum by (destination_workload, response_code) (rate(istio_requests_total{reporter="destination", destination_workload_namespace=~"$namespace"}[${RI}]))`,
              legend: '{{destination_workload}} {{response_code}}',
              kubernetesOnly: ISTIO_ONLY,
            },
            {
              // One family holds codes and classes (grafana/mesh-metrics.json): the codes only.
              expr: `sum by (cluster_name, response_code) (rate(${envoy('envoy_cluster_upstream_rq', 'response_code!=""')}[${RI}]))`,
              legend: '{{cluster_name}} {{response_code}} (Envoy stats)',
            },
          ],
          width: 12,
        },
        ucPanel,
        {
          title: '5xx by response flag (UC UF UH UO URX UT)',
          unit: 'reqps',
          min: 0,
          description:
            'Errors per Istio response flag: UC upstream connection termination (503-uc), UF connect failure, UH no healthy upstream, UO circuit-breaker overflow, URX retry limit exceeded, UT upstream timeout (504). Bad: any non-zero line; the flag names the cause. Lab: one Envoy counter per flag.',
          targets: [
            {
              expr: `sum by (reporter, source_workload, destination_workload, response_code, response_flags) (rate(istio_requests_total{destination_workload_namespace=~"$namespace", response_code=~"5..", response_flags!="-"}[${RI}]))`,
              legend:
                '{{response_code}} {{response_flags}} {{source_workload}} → {{destination_workload}} ({{reporter}})',
              kubernetesOnly: ISTIO_ONLY,
            },
            ...flagTargets,
          ],
          width: 12,
        },
        {
          title: 'Mesh latency p99 per workload',
          unit: 'ms',
          min: 0,
          description:
            "p99 of request duration measured by the sidecars (milliseconds). Bad: much higher than the app's own p99 on the Services dashboard = time spent in retries or queued in the proxy (pending requests, circuit breakers).",
          targets: [
            {
              expr: `histogram_quantile(0.99, sum by (destination_workload, le) (rate(istio_request_duration_milliseconds_bucket{reporter="destination", destination_workload_namespace=~"$namespace"}[${RI}])))`,
              legend: 'p99 {{destination_workload}}',
              kubernetesOnly: ISTIO_ONLY,
            },
            {
              expr: `histogram_quantile(0.99, sum by (cluster_name, le) (rate(${envoy('envoy_cluster_upstream_rq_time_bucket')}[${RI}])))`,
              legend: 'p99 {{cluster_name}} (Envoy stats)',
            },
          ],
          width: 12,
        },
      ],
    },
    {
      row: 'Envoy connection behaviour (Envoy stats, lab and Kubernetes)',
      panels: [
        {
          title: 'Retries per cluster',
          unit: 'reqps',
          min: 0,
          description:
            'Retries the proxy made, and how they ended. Bad: retries close to the request rate, or retry_limit_exceeded/overflow above 0. In 503-uc the outbound default retry policy (connect-failure, refused-stream, unavailable, cancelled) does not retry a reset after the request was sent, so UC passes through.',
          targets: [
            { expr: envoyRate('envoy_cluster_upstream_rq_retry'), legend: 'retry {{cluster_name}}' },
            {
              expr: envoyRate('envoy_cluster_upstream_rq_retry_success'),
              legend: 'retry success {{cluster_name}}',
            },
            {
              expr: envoyRate('envoy_cluster_upstream_rq_retry_limit_exceeded'),
              legend: 'limit exceeded {{cluster_name}}',
            },
            { expr: envoyRate('envoy_cluster_upstream_rq_retry_overflow'), legend: 'overflow {{cluster_name}}' },
          ],
        },
        {
          title: 'Upstream connection resets',
          unit: 'cps',
          min: 0,
          description:
            'Upstream connections destroyed while a request was active, by which side closed, and request resets. Bad: remote-with-active-request above 0 = the app closed a socket Envoy had just used (503-uc); rx resets = the upstream reset streams (HTTP/2, gRPC).',
          targets: [
            {
              expr: envoyRate('envoy_cluster_upstream_cx_destroy_remote_with_active_rq'),
              legend: 'closed by upstream, request active {{cluster_name}}',
            },
            {
              expr: envoyRate('envoy_cluster_upstream_cx_destroy_local_with_active_rq'),
              legend: 'closed by Envoy, request active {{cluster_name}}',
            },
            { expr: envoyRate('envoy_cluster_upstream_rq_rx_reset'), legend: 'rx reset {{cluster_name}}' },
            { expr: envoyRate('envoy_cluster_upstream_rq_tx_reset'), legend: 'tx reset {{cluster_name}}' },
          ],
        },
        {
          title: 'Idle-timeout closes vs upstream closes',
          unit: 'cps',
          min: 0,
          description:
            'Who closes idle upstream connections. Healthy mesh: Envoy closes them first (idle_timeout, the 503-uc fix with DestinationRule connectionPool.http.idleTimeout below the app keep-alive). Bad: only "closed by upstream" moving = the app\'s keep-alive timeout wins the race, which is the 503-uc setup.',
          targets: [
            {
              expr: envoyRate('envoy_cluster_upstream_cx_idle_timeout'),
              legend: 'idle timeout (Envoy closed) {{cluster_name}}',
            },
            {
              expr: envoyRate('envoy_cluster_upstream_cx_destroy_remote'),
              legend: 'closed by upstream {{cluster_name}}',
            },
          ],
        },
        {
          title: 'Active upstream connections',
          unit: 'short',
          min: 0,
          description:
            'Open connections from each proxy to each cluster. Bad: climbing without more traffic = connections leaked (client-abort-leak keeps upstream streams open); dropping to 0 under load = connections refused.',
          targets: [
            {
              expr: `sum by (cluster_name) (${envoy('envoy_cluster_upstream_cx_active')})`,
              legend: '{{cluster_name}}',
            },
          ],
        },
        {
          title: 'Circuit-breaker overflow (UO)',
          unit: 'reqps',
          min: 0,
          description:
            'Requests rejected because a connection-pool limit (DestinationRule connectionPool) was reached: Istio flag UO. Bad: above 0 under normal load = limits too tight.',
          targets: [
            {
              expr: envoyRate('envoy_cluster_upstream_rq_pending_overflow'),
              legend: 'pending overflow {{cluster_name}}',
            },
            {
              expr: envoyRate('envoy_cluster_upstream_cx_overflow'),
              legend: 'connection overflow {{cluster_name}}',
            },
          ],
        },
        {
          title: 'Upstream responses by class per cluster',
          unit: 'reqps',
          description:
            "Responses each proxy received from its upstream clusters, by status class (inbound = the app's answers, outbound = the next hop's). Per cluster, not per listener: cluster stats are labelled alike in the lab and on Istio (cluster_name), listener stats are not (istiod names its HTTP connection managers inbound_0.0.0.0_4000;, the lab after its listeners). Bad: 5xx on an inbound cluster = the app failed; on an outbound one only = the mesh between.",
          targets: [
            {
              expr: `sum by (cluster_name, response_code_class) (rate(${envoy('envoy_cluster_upstream_rq', 'response_code_class!=""')}[${RI}]))`,
              legend: '{{cluster_name}} {{response_code_class}}xx',
            },
          ],
        },
      ],
    },
    {
      row: 'TCP',
      panels: [
        {
          title: 'TCP connections opened / closed per workload',
          unit: 'cps',
          min: 0,
          description:
            'Connection churn between workloads. Bad: opened far above the request rate = no keep-alive reuse; closed spikes together with 503 UC = the 503-uc race.',
          targets: [
            {
              expr: `sum by (destination_workload) (rate(istio_tcp_connections_opened_total{destination_workload_namespace=~"$namespace"}[${RI}]))`,
              legend: 'opened {{destination_workload}}',
              kubernetesOnly: ISTIO_ONLY,
            },
            {
              expr: `sum by (destination_workload) (rate(istio_tcp_connections_closed_total{destination_workload_namespace=~"$namespace"}[${RI}]))`,
              legend: 'closed {{destination_workload}}',
              kubernetesOnly: ISTIO_ONLY,
            },
            {
              expr: envoyRate('envoy_cluster_upstream_cx_total'),
              legend: 'opened {{cluster_name}} (Envoy stats)',
            },
            {
              expr: envoyRate('envoy_cluster_upstream_cx_destroy'),
              legend: 'closed {{cluster_name}} (Envoy stats)',
            },
          ],
          width: 24,
        },
      ],
    },
  ],
};

// ---------------------------------------------------------------------------------------------
// Node.js runtime

const perProcess = 'service, instance';

export const heapPanel: PanelSpec = {
  title: 'Heap used / total',
  unit: 'bytes',
  min: 0,
  description:
    'V8 heap in use and reserved. Bad: "used" growing with every request and never falling back after GC = memory kept alive; upload-oom buffers whole uploads in memory and grows it until the process dies.',
  targets: [
    { expr: `sum by (${perProcess}) (nodejs_heap_size_used_bytes${app()})`, legend: 'used {{service}} {{instance}}' },
    { expr: `sum by (${perProcess}) (nodejs_heap_size_total_bytes${app()})`, legend: 'total {{service}} {{instance}}' },
  ],
};

export const rssPanel: PanelSpec = {
  title: 'Resident memory (RSS)',
  unit: 'bytes',
  min: 0,
  description:
    'Memory the OS charges to the process (heap, buffers, native). Bad: growing towards the container limit (OOMKilled on Kubernetes); upload-oom grows it with Buffers outside the heap.',
  targets: [
    { expr: `sum by (${perProcess}) (process_resident_memory_bytes${app()})`, legend: '{{service}} {{instance}}' },
  ],
};

export const externalMemoryPanel: PanelSpec = {
  title: 'External memory (Buffers)',
  unit: 'bytes',
  min: 0,
  description:
    'Memory held by C++ objects bound to JS objects, Buffers included (prom-client nodejs_external_memory_bytes): outside the V8 heap, so the heap panel does not show it. Bad: climbing with concurrent uploads = whole request bodies buffered in memory; upload-oom shows it (the fix streams the upload and keeps it flat).',
  targets: [
    { expr: `sum by (${perProcess}) (nodejs_external_memory_bytes${app()})`, legend: '{{service}} {{instance}}' },
  ],
};

export const fdsPanel: PanelSpec = {
  title: 'Open file descriptors',
  unit: 'short',
  min: 0,
  description:
    'Sockets and files the process holds open. Bad: a climb that does not come back after load stops = leaked sockets; client-abort-leak shows it when aborted exports leave upstream streams open.',
  targets: [{ expr: `sum by (${perProcess}) (process_open_fds${app()})`, legend: '{{service}} {{instance}}' }],
};

export const handlesPanel: PanelSpec = {
  title: 'Active handles / requests',
  unit: 'short',
  min: 0,
  description:
    'libuv handles (sockets, timers, servers) and in-flight requests. Bad: handles growing without traffic growth = leaked sockets or timers (client-abort-leak).',
  targets: [
    {
      expr: `sum by (${perProcess}) (nodejs_active_handles_total${app()})`,
      legend: 'handles {{service}} {{instance}}',
    },
    {
      expr: `sum by (${perProcess}) (nodejs_active_requests_total${app()})`,
      legend: 'requests {{service}} {{instance}}',
    },
  ],
};

export const nodejs: DashboardSpec = {
  uid: 'recipe-mesh-nodejs',
  title: 'recipe-mesh / Node.js runtime',
  description:
    'Event loop, GC, memory, handles and file descriptors of each Node process: the view for the leak and memory experiments.',
  tags: ['recipe-mesh', 'nodejs'],
  variables: appVariables,
  sections: [
    {
      row: 'Event loop and CPU',
      panels: [
        {
          title: 'Event-loop lag (mean and p99)',
          unit: 's',
          min: 0,
          thresholds: [{ value: 0.1, color: 'red' }],
          description:
            'How late timers fire: every request waits at least this long. Bad: p99 above 100 ms (the NodeEventLoopLagHigh alert); CPU burn faults and GC pressure in upload-oom raise it.',
          targets: [
            {
              expr: `max by (${perProcess}) (nodejs_eventloop_lag_p99_seconds${app()})`,
              legend: 'p99 {{service}} {{instance}}',
            },
            {
              expr: `max by (${perProcess}) (nodejs_eventloop_lag_seconds${app()})`,
              legend: 'mean {{service}} {{instance}}',
            },
          ],
        },
        {
          title: 'Event-loop utilisation',
          unit: 'percentunit',
          min: 0,
          max: 1,
          thresholds: [{ value: 0.9, color: 'red' }],
          description:
            'Share of time the event loop was busy. Bad: near 100% = the process is CPU bound and queues requests (cpu_burn fault); add replicas or remove the synchronous work.',
          targets: [
            {
              expr: `max by (${perProcess}) (nodejs_eventloop_utilization_ratio${app()})`,
              legend: '{{service}} {{instance}}',
            },
          ],
        },
        {
          title: 'CPU usage (cores)',
          unit: 'percentunit',
          min: 0,
          description:
            'CPU time per second (1 = 100% of one core). Bad: pinned at 100% of one core = the single JS thread is saturated; the redis-scan-latency invalidators also add CPU to recipe-api.',
          targets: [
            {
              expr: `sum by (${perProcess}) (rate(process_cpu_seconds_total${app()}[${RI}]))`,
              legend: '{{service}} {{instance}}',
            },
          ],
        },
      ],
    },
    {
      row: 'Garbage collection and memory',
      panels: [
        {
          title: 'Time in GC by kind',
          unit: 'percentunit',
          min: 0,
          description:
            'Share of wall time spent in GC pauses per kind (minor, major, incremental). Bad: above 10% or major GCs back to back = heap pressure (upload-oom).',
          targets: [
            {
              expr: `sum by (service, kind) (rate(nodejs_gc_duration_seconds_sum${app()}[${RI}]))`,
              legend: '{{service}} {{kind}}',
            },
          ],
        },
        {
          title: 'GC pause p99 by kind',
          unit: 's',
          min: 0,
          description:
            'p99 of one GC pause per kind: every request in flight waits this long. Bad: major GC pauses above 100 ms (upload-oom as the heap fills).',
          targets: [
            {
              expr: quantile(0.99, `nodejs_gc_duration_seconds_bucket${app()}`, 'service, kind'),
              legend: 'p99 {{service}} {{kind}}',
            },
          ],
        },
        heapPanel,
        rssPanel,
        externalMemoryPanel,
      ],
    },
    {
      row: 'Handles and file descriptors',
      panels: [fdsPanel, handlesPanel],
    },
  ],
};

// ---------------------------------------------------------------------------------------------
// Redis

export const redisP99Panel: PanelSpec = {
  title: 'Redis command latency p99 by command',
  unit: 's',
  min: 0,
  thresholds: [{ value: 0.005, color: 'red' }],
  description:
    "p99 of Redis commands as ioredis saw them, with exemplars. Bad: GET p99 several times its baseline (sub-millisecond here) while invalidations run = SCAN blocking Redis's single thread (redis-scan-latency); the fix (per-user index SET) keeps it within 2x.",
  targets: [
    {
      expr: quantile(0.99, `redis_command_duration_seconds_bucket${app()}`, 'service, command'),
      legend: 'p99 {{command}}',
      exemplar: true,
    },
  ],
};

export const invalidationPanel: PanelSpec = {
  title: 'Cache invalidation p99 by strategy',
  unit: 's',
  min: 0,
  description:
    "How long invalidating one user's cached views takes. Bad: strategy=scan in milliseconds and growing with the keyspace (redis-scan-latency); strategy=index stays flat.",
  targets: [
    {
      expr: quantile(0.99, `cache_invalidation_duration_seconds_bucket${app()}`, 'service, strategy'),
      legend: 'p99 {{strategy}}',
      exemplar: true,
    },
  ],
};

export const redis: DashboardSpec = {
  uid: 'recipe-mesh-redis',
  title: 'recipe-mesh / Redis',
  description:
    "recipe-api's Redis: command latency and errors, connection state, cache hit ratio, invalidation cost and degraded-mode answers.",
  tags: ['recipe-mesh', 'redis'],
  variables: [
    namespaceVariable('redis_command_duration_seconds_count'),
    serviceVariable('redis_command_duration_seconds_count'),
  ],
  sections: [
    {
      row: 'Commands',
      panels: [
        {
          title: 'Redis command latency p50 by command',
          unit: 's',
          min: 0,
          description:
            'Median Redis command duration. Bad: p50 moving too means Redis itself is slow for everyone, not only the tail (a saturated or swapping Redis).',
          targets: [
            {
              expr: quantile(0.5, `redis_command_duration_seconds_bucket${app()}`, 'service, command'),
              legend: 'p50 {{command}}',
              exemplar: true,
            },
          ],
        },
        redisP99Panel,
        {
          title: 'Redis command rate by command and outcome',
          unit: 'ops',
          description:
            'Commands per second. Bad: scan far above the read rate = invalidations walk the keyspace (redis-scan-latency); everything at 0 = no Redis traffic (cache disabled or down).',
          targets: [
            {
              expr: `sum by (service, command, outcome) (rate(redis_command_duration_seconds_count${app()}[${RI}]))`,
              legend: '{{command}} {{outcome}}',
            },
          ],
        },
        {
          title: 'Redis error ratio by command',
          unit: 'percentunit',
          min: 0,
          thresholds: [{ value: 0.01, color: 'red' }],
          description:
            'Share of commands that failed. Bad: above 1% = Redis unreachable or refusing; recipe-api then answers from the store (see degraded responses).',
          targets: [
            {
              expr: ratio('redis_command_duration_seconds_count', 'outcome="error"', 'service, command'),
              legend: '{{command}}',
            },
          ],
        },
      ],
    },
    {
      row: 'Connection and cache',
      panels: [
        {
          title: 'Redis connection',
          type: 'stat',
          unit: 'none',
          valueText: { '0': { text: 'down', color: 'red' }, '1': { text: 'ready', color: 'green' } },
          description:
            'ioredis connection state per recipe-api process (1 ready, 0 anything else). Bad: down = every request goes to the store and is slower; recipe-api stays ready on purpose and reconnects by itself.',
          targets: [
            { expr: `min by (${perProcess}) (redis_connection_up${app()})`, legend: '{{service}} {{instance}}' },
          ],
        },
        {
          title: 'Cache hit ratio',
          unit: 'percentunit',
          min: 0,
          max: 1,
          description:
            'Share of cache lookups served from Redis. Bad: dropping after a change = invalidation too broad, or errors counted as misses; during redis-scan-latency hits stay high but each is slower.',
          targets: [{ expr: ratio('cache_lookups_total', 'result="hit"', 'service'), legend: '{{service}}' }],
        },
        {
          title: 'Cache lookups by result',
          unit: 'ops',
          description:
            'Cache lookups per second by result (hit, miss, error). Bad: error above 0 = Redis failing under the cache.',
          targets: [
            { expr: `sum by (service, result) (rate(cache_lookups_total${app()}[${RI}]))`, legend: '{{result}}' },
          ],
        },
        {
          title: 'Degraded responses by reason',
          unit: 'reqps',
          min: 0,
          description:
            'Answers recipe-api gave without its cache (e.g. redis_unavailable). 0 is healthy and is drawn as 0, not "No data". Bad: above 0 = Redis is down or failing and the store takes the load.',
          // The zero line only while no degraded answer was ever counted (prom-client exports the
          // labelled series from the first increment on).
          targets: [
            {
              expr: `sum by (service, reason) (rate(degraded_responses_total${app()}[${RI}])) or (sum by (service) (redis_connection_up${app()}) * 0 unless on (service) sum by (service) (degraded_responses_total${app()}))`,
              legend: '{{service}} {{reason}}',
            },
          ],
        },
        invalidationPanel,
        {
          title: 'Cache invalidations by strategy',
          unit: 'ops',
          description:
            'Invalidations (preference changes) per second per strategy. Bad: scan invalidations at a high rate on a large keyspace = the redis-scan-latency setup.',
          targets: [
            {
              expr: `sum by (service, strategy) (rate(cache_invalidation_duration_seconds_count${app()}[${RI}]))`,
              legend: '{{strategy}}',
            },
          ],
        },
      ],
    },
  ],
};

// ---------------------------------------------------------------------------------------------
// Experiments

export const experiments: DashboardSpec = {
  uid: 'recipe-mesh-experiments',
  title: 'recipe-mesh / Experiments',
  description:
    'Which faults are active, and next to them the one panel per experiment that shows its incident (503-uc, redis-scan-latency, client-abort-leak, upload-oom).',
  tags: ['recipe-mesh', 'experiments'],
  variables: [...appVariables, clusterVariable],
  sections: [
    {
      panels: [
        {
          title: 'Active faults',
          type: 'state-timeline',
          unit: 'none',
          valueText: { '0': { text: 'off', color: 'transparent' }, '1': { text: 'active', color: 'red' } },
          description:
            "fault_active per service and kind: when each experiment's app fault was on. Bad: a fault still active after an experiment ended (the runner restores faults; DELETE /faults on the admin port clears them).",
          targets: [{ expr: `max by (service, kind) (fault_active${app()})`, legend: '{{service}} {{kind}}' }],
          width: 24,
          height: 7,
        },
      ],
    },
    {
      row: '503-uc',
      panels: [
        {
          title: 'Upstream failure ratio by via (web-api)',
          unit: 'percentunit',
          min: 0,
          description:
            'What users of web-api feel of 503-uc: upstream calls that failed (server_error, timeout, unavailable) per protocol. Bad: above 0 during the experiment, 0 with --fix.',
          targets: [
            {
              expr: ratio(
                'upstream_request_duration_seconds_count',
                'outcome=~"server_error|timeout|unavailable"',
                'service, via',
              ),
              legend: '{{via}}',
            },
          ],
          width: 12,
        },
        ucPanel,
      ],
    },
    {
      row: 'redis-scan-latency',
      panels: [
        { ...redisP99Panel, width: 12 },
        { ...invalidationPanel, width: 12 },
      ],
    },
    {
      row: 'client-abort-leak',
      panels: [
        { ...fdsPanel, width: 12 },
        { ...handlesPanel, width: 12 },
      ],
    },
    {
      row: 'upload-oom',
      panels: [
        { ...externalMemoryPanel, width: 8 },
        { ...heapPanel, width: 8 },
        { ...rssPanel, width: 8 },
      ],
    },
  ],
};

export const dashboards: Record<string, DashboardSpec> = {
  'services.json': services,
  'mesh.json': mesh,
  'nodejs.json': nodejs,
  'redis.json': redis,
  'experiments.json': experiments,
};
