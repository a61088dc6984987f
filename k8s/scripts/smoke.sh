#!/usr/bin/env bash
# `make smoke`: is the platform on minikube answering, and do its signals arrive?
#  1. one request through the Istio ingress per protocol web-api uses to call recipe-api
#     (?via=http|graphql|grpc), each must answer 200;
#  2. Tempo has a trace of web-api (queried through the API server's service proxy, so no
#     port-forward is left behind);
#  3. Prometheus has web-api's request histogram (the app's metrics, merged by the sidecar) and
#     istio_requests_total for recipe-api (the sidecars' own).
# Signals take a scrape interval or two to arrive: steps 2-3 retry SMOKE_RETRIES times.
set -euo pipefail

KUBECTL=${KUBECTL:-kubectl}
KUBE_CONTEXT=${KUBE_CONTEXT:-recipe-mesh}
K8S_NAMESPACE=${K8S_NAMESPACE:-recipe-mesh}
MINIKUBE_PROFILE=${MINIKUBE_PROFILE:-recipe-mesh}
SMOKE_PATH=${SMOKE_PATH:-/api/recipes/1}
SMOKE_RETRIES=${SMOKE_RETRIES:-12}
SMOKE_RETRY_DELAY=${SMOKE_RETRY_DELAY:-5}

run() { echo "+ $*" >&2; "$@"; }
# KUBECONFIG (one file) is named on every command, like make/k8s.mk does.
kubeconfig=()
if [[ -n ${KUBECONFIG:-} && $KUBECONFIG != *:* ]]; then kubeconfig=(--kubeconfig "$KUBECONFIG"); fi
kube() { run "$KUBECTL" "${kubeconfig[@]}" --context "$KUBE_CONTEXT" "$@"; }
fail() { echo "smoke: FAIL: $*" >&2; exit 1; }

# Retries "$@" until its output matches the pattern in $1.
until_matches() {
  local pattern=$1 out attempt
  shift
  for ((attempt = 1; attempt <= SMOKE_RETRIES; attempt++)); do
    if out=$("$@") && grep -qE "$pattern" <<<"$out"; then return 0; fi
    sleep "$SMOKE_RETRY_DELAY"
  done
  return 1
}

ingress=${INGRESS_URL:-}
if [[ -z $ingress ]]; then
  host=$(kube -n istio-system get service istio-ingressgateway \
    -o jsonpath='{.status.loadBalancer.ingress[0].ip}{.status.loadBalancer.ingress[0].hostname}')
  [[ -n $host ]] || fail "the ingress gateway has no external address: run 'minikube tunnel -p $MINIKUBE_PROFILE' in another terminal (or set INGRESS_URL)"
  ingress="http://$host"
fi

for via in http graphql grpc; do
  url="$ingress$SMOKE_PATH?via=$via"
  code=$(run curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$url") || fail "$url: no answer"
  [[ $code == 200 ]] || fail "$url answered $code"
  echo "smoke: ok   $url -> 200"
done

proxy="/api/v1/namespaces/$K8S_NAMESPACE/services"
until_matches '"traceID"' kube get --raw "$proxy/tempo:3200/proxy/api/search?tags=service.name%3Dweb-api&limit=5" \
  || fail "no web-api trace in Tempo after $SMOKE_RETRIES tries"
echo "smoke: ok   Tempo has web-api traces"

for query in 'http_server_request_duration_seconds_count{service="web-api"}' \
  'istio_requests_total{destination_app="recipe-api"}'; do
  encoded=$(node -e 'process.stdout.write(encodeURIComponent(process.argv[1]))' "$query")
  until_matches '"result":\[\{' kube get --raw "$proxy/prometheus:9090/proxy/api/v1/query?query=$encoded" \
    || fail "Prometheus has no series for $query after $SMOKE_RETRIES tries"
  echo "smoke: ok   Prometheus has $query"
done
echo "smoke: passed"
