# What `make up` and `make test` need beyond npm, installed when missing (make/need.sh: each line
# checks first, says what it installs and why, and is silent when the thing is there). `make up`
# uses lab-deps (make/lab.mk); `make test` uses test-deps below. Debian/Ubuntu (apt-get), PyPI
# (pip) and the Go module proxy (go install).

NEED := bash make/need.sh

.PHONY: test-deps

test-deps: node_modules/.package-lock.json lab-deps ## Install what `make test` needs when missing (the lab's parts, Chromium, bubblewrap, grpcurl, the local control plane…)
	@$(NEED) apt chromium chromium "the HTML report test drives Debian's Chromium with playwright-core (no browser download)"
	@$(NEED) apt bwrap bubblewrap "k8s/test/image-rehearsal.test.ts runs each service on a read-only root with bwrap"
	@$(NEED) apt openssl openssl "the local control plane makes each run's certificates with it"
	@$(NEED) pip schemathesis 'schemathesis>=4.32,<5' "fuzzes the REST and GraphQL APIs from their published schemas (docs/reliability.md)"
	@$(NEED) go grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3 "talks to recipe-api through server reflection (services/recipe-api/test/grpc-reflection.test.ts)"
	@$(NEED) go grpc-health-probe github.com/grpc-ecosystem/grpc-health-probe@v0.4.62 "checks recipe-api's grpc.health.v1 as a kubelet probe would"
	@# Manifests are built with `kubectl kustomize`; without kubectl a standalone kustomize does the same.
	@command -v kubectl >/dev/null || $(NEED) go kustomize sigs.k8s.io/kustomize/kustomize/v5@v5.5.0 "builds the manifests (k8s/test) where kubectl is missing"
	@$(NEED) kube "k8s/test/live-*.test.ts deploy to a real control plane on 127.0.0.1 (docs/kubernetes.md)"
