# recipe-mesh on minikube with Istio, Tempo, Prometheus and Grafana (docs/kubernetes.md).
# Included by the root Makefile. Every command that talks to a cluster is printed before it runs
# and pinned to the minikube profile's kubectl context, so nothing lands on another cluster.
# `make k8s-check` runs the checks that need no cluster (k8s/test), fake tools included.

MINIKUBE ?= minikube
KUBECTL ?= kubectl
ISTIOCTL ?= istioctl
DOCKER ?= docker
NODE_TS ?= node --conditions=source --import tsx

# Pinned: istioctl of another version is refused (istio/install/istio-operator.yaml is for it).
ISTIO_VERSION := 1.30.5
MINIKUBE_PROFILE ?= recipe-mesh
# Sized for the whole platform with Istio and observability (k8s/test/resources.test.ts).
MINIKUBE_CPUS ?= 4
MINIKUBE_MEMORY ?= 8g
MINIKUBE_DISK ?= 30g
# >= 1.30 for the preStop sleep action and native sidecars; within Istio 1.30's supported range.
MINIKUBE_K8S_VERSION ?= v1.34.0
KUBE_CONTEXT ?= $(MINIKUBE_PROFILE)
K8S_NAMESPACE := recipe-mesh
# Image names are docs/contracts.md's; the tag must match k8s/base unless IMAGE_TAG is passed to
# both `make images` and `make deploy`.
IMAGE_TAG ?= 0.1.0
K8S_IMAGES := recipe-api web-api
# Extra kustomize components for `make deploy`, e.g. k8s/components/dragonfly; FAULT=<name> adds
# istio/faults/<name>.
K8S_COMPONENTS ?=
FAULT ?=
# The overlay composed for deploy; a direct child of k8s/ (its paths climb two levels).
K8S_GENERATED ?= k8s/.generated
GRAFANA_LOCAL_PORT ?= 3300
ROLLOUT_TIMEOUT ?= 5m

# KUBECONFIG=<file> names the kubeconfig on every command too (make kube-up's, for example); a
# colon-separated list is left to kubectl's own reading of $$KUBECONFIG.
k8s_kubeconfig = $(if $(KUBECONFIG),$(if $(findstring :,$(KUBECONFIG)),,--kubeconfig $(KUBECONFIG) ))
k8s_kubectl = $(KUBECTL) $(k8s_kubeconfig)--context $(KUBE_CONTEXT)
# $(call k8s_require,tool,how to get it): a clear message instead of "command not found".
k8s_require = @command -v $(1) >/dev/null 2>&1 || { echo "k8s: '$(1)' is not installed or not on PATH. $(2)" >&2; exit 127; }
k8s_need_minikube = $(call k8s_require,$(MINIKUBE),Install minikube: https://minikube.sigs.k8s.io/docs/start/)
k8s_need_kubectl = $(call k8s_require,$(KUBECTL),Install kubectl: https://kubernetes.io/docs/tasks/tools/ (or use 'minikube kubectl --'))
k8s_need_istioctl = $(call k8s_require,$(ISTIOCTL),Install istioctl $(ISTIO_VERSION): curl -L https://istio.io/downloadIstio | ISTIO_VERSION=$(ISTIO_VERSION) sh -)
k8s_need_docker = $(call k8s_require,$(DOCKER),Install the Docker CLI: make images builds inside minikube's Docker through it)

.PHONY: kube-build kube-up kube-status kube-down cluster-up cluster-down minikube-up istio-install images deploy fault fault-clear smoke grafana-port-forward undeploy k8s-check k8s-overlay k8s-fault-named

# A real control plane without containers (etcd, kube-apiserver, controller manager, scheduler,
# kwok nodes) on 127.0.0.1: what make test deploys to. Then e.g.
# `make deploy KUBECONFIG=.kube/recipe-mesh-test.kubeconfig KUBE_CONTEXT=recipe-mesh-test`.
kube-build: node_modules/.package-lock.json ## Build the local control plane's binaries from the Go module proxy (cached)
	$(NODE_TS) k8s/kube/cli.ts build

kube-up: node_modules/.package-lock.json ## Start the local control plane; writes .kube/recipe-mesh-test.kubeconfig
	$(NODE_TS) k8s/kube/cli.ts up

kube-status: ## The local control plane's processes, memory and nodes
	$(NODE_TS) k8s/kube/cli.ts status

kube-down: ## Stop the local control plane (by pid) and remove its state
	$(NODE_TS) k8s/kube/cli.ts down

# The local control plane with the lab as its data plane: each web-api/recipe-api pod is a lab
# instance, `make deploy` applies the platform, the ingress gateway is the lab's ingress Envoy.
cluster-up: node_modules/.package-lock.json ## Start a local cluster whose pods are lab processes; writes .kube/recipe-mesh-test.kubeconfig
	$(NODE_TS) k8s/kube/cli.ts cluster-up

cluster-down: ## Stop make cluster-up's control plane, lab and data plane (by pid) and remove its state
	$(NODE_TS) k8s/kube/cli.ts cluster-down

minikube-up: ## Start a minikube sized for the platform (4 CPUs, 8 GiB)
	$(k8s_need_minikube)
	$(MINIKUBE) start -p $(MINIKUBE_PROFILE) --cpus=$(MINIKUBE_CPUS) --memory=$(MINIKUBE_MEMORY) --disk-size=$(MINIKUBE_DISK) --kubernetes-version=$(MINIKUBE_K8S_VERSION)

istio-install: ## Install Istio (pinned version) with access logs and tracing to Tempo
	$(k8s_need_istioctl)
	$(k8s_need_kubectl)
	@found=$$($(ISTIOCTL) version --remote=false 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n 1); \
	if [ "$$found" != "$(ISTIO_VERSION)" ]; then \
	  echo "k8s: istioctl $${found:-of unknown version} found; this platform pins Istio $(ISTIO_VERSION): curl -L https://istio.io/downloadIstio | ISTIO_VERSION=$(ISTIO_VERSION) sh -" >&2; exit 1; \
	fi
	$(ISTIOCTL) install --context $(KUBE_CONTEXT) -y -f istio/install/istio-operator.yaml
	$(k8s_kubectl) -n istio-system rollout status deployment/istiod --timeout=$(ROLLOUT_TIMEOUT)
	$(k8s_kubectl) -n istio-system rollout status deployment/istio-ingressgateway --timeout=$(ROLLOUT_TIMEOUT)

images: ## Build both service images into minikube's Docker (no registry)
	$(k8s_need_minikube)
	$(k8s_need_docker)
	eval "$$($(MINIKUBE) -p $(MINIKUBE_PROFILE) docker-env --shell bash)" && \
	for svc in $(K8S_IMAGES); do \
	  echo "+ $(DOCKER) build --target $$svc -t recipe-mesh/$$svc:$(IMAGE_TAG) ." && \
	  $(DOCKER) build --target $$svc -t recipe-mesh/$$svc:$(IMAGE_TAG) . || exit 1; \
	done

# The overlay deploy applies: k8s/overlays/minikube + K8S_COMPONENTS + istio/faults/$(FAULT),
# with IMAGE_TAG. Written to a file so `kubectl kustomize $(K8S_GENERATED)` shows what was applied.
k8s-overlay:
	@set -e; comps="$(K8S_COMPONENTS)"; \
	if [ -n "$(FAULT)" ]; then comps="$$comps istio/faults/$(FAULT)"; fi; \
	for c in $$comps; do \
	  if [ ! -f "$$c/kustomization.yaml" ]; then \
	    echo "k8s: no kustomize component at '$$c'. Faults: $$(ls istio/faults | grep -v '\.md$$' | tr '\n' ' ')" >&2; exit 2; \
	  fi; \
	done; \
	mkdir -p $(K8S_GENERATED); \
	{ echo "# Written by make/k8s.mk: the overlay 'make deploy' applied."; \
	  echo "apiVersion: kustomize.config.k8s.io/v1beta1"; \
	  echo "kind: Kustomization"; \
	  echo "resources:"; \
	  echo "  - ../overlays/minikube"; \
	  if [ -n "$$comps" ]; then echo "components:"; for c in $$comps; do echo "  - ../../$$c"; done; fi; \
	  echo "images:"; \
	  for svc in $(K8S_IMAGES); do echo "  - name: recipe-mesh/$$svc"; echo "    newTag: \"$(IMAGE_TAG)\""; done; \
	} > $(K8S_GENERATED)/kustomization.yaml

# Server-side apply: the dashboards ConfigMap outgrows the 256 KiB last-applied annotation of
# client-side apply, and fields a previous apply set but this one omits (a cleared fault) are
# still removed, as the same field manager owned them. --validate=strict: an unknown or duplicate
# field is an error, not a warning (k8s/test/live-deploy.test.ts proves it on a real API server).
deploy: k8s-overlay ## Apply the platform (K8S_COMPONENTS=…, FAULT=…) and wait for every rollout
	$(k8s_need_kubectl)
	$(k8s_kubectl) apply --server-side --force-conflicts --validate=strict -k $(K8S_GENERATED)
	$(k8s_kubectl) -n $(K8S_NAMESPACE) rollout status deployment -l app.kubernetes.io/part-of=recipe-mesh --timeout=$(ROLLOUT_TIMEOUT)

fault: k8s-fault-named deploy ## Apply one mesh fault on top of the platform: make fault FAULT=delay (see istio/faults)

k8s-fault-named:
	@if [ -z "$(FAULT)" ]; then echo "k8s: say which fault: make fault FAULT=<$$(ls istio/faults | grep -v '\.md$$' | tr '\n' '|' | sed 's/|$$//')>" >&2; exit 2; fi

# A target-specific value reaches the prerequisites too: deploy runs without a fault.
fault-clear: FAULT :=
fault-clear: deploy ## Re-apply the platform without mesh faults

smoke: ## Requests through the ingress over HTTP, GraphQL and gRPC; a trace in Tempo; series in Prometheus
	$(k8s_need_kubectl)
	$(call k8s_require,curl,Install curl.)
	KUBECTL="$(KUBECTL)" KUBECONFIG="$(KUBECONFIG)" KUBE_CONTEXT="$(KUBE_CONTEXT)" K8S_NAMESPACE="$(K8S_NAMESPACE)" MINIKUBE_PROFILE="$(MINIKUBE_PROFILE)" bash k8s/scripts/smoke.sh

grafana-port-forward: ## Port-forward Grafana on minikube and print its URL (Ctrl-C stops)
	$(k8s_need_kubectl)
	@echo "Grafana: http://localhost:$(GRAFANA_LOCAL_PORT)  (anonymous viewer; admin login in the grafana-admin Secret)"
	$(k8s_kubectl) -n $(K8S_NAMESPACE) port-forward service/grafana $(GRAFANA_LOCAL_PORT):3000

undeploy: ## Remove everything deploy applied (Istio stays; istioctl uninstall --purge removes it)
	$(k8s_need_kubectl)
	$(k8s_kubectl) delete -k k8s/overlays/minikube --ignore-not-found
	$(k8s_kubectl) delete namespace $(K8S_NAMESPACE) --ignore-not-found

k8s-check: ## Kubernetes/Istio checks that need no cluster (kustomize builds, schemas, cross-references, fake tools)
	node scripts/run-tests.mjs k8s
