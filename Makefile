# recipe-mesh — the commands a newcomer needs. `make help` lists them.
SHELL := /bin/bash
NODE_TS := node --conditions=source --import tsx

.PHONY: help install build typecheck lint format docs dashboards proto proto-check test run bench clean

help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F':.*## ' '{printf "  %-22s %s\n", $$1, $$2}'

install: ## Install npm packages exactly as locked (npm ci)
	npm ci --no-audit --no-fund

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund

build: node_modules/.package-lock.json ## Compile every workspace to dist/ (what images run)
	npx tsc -b tsconfig.build.json

typecheck: node_modules/.package-lock.json ## Type-check sources and tests (strict)
	npx tsc -p tsconfig.json

lint: node_modules/.package-lock.json ## Formatting and lint rules (Biome, biome.json): fails on any finding
	npx biome check .

format: node_modules/.package-lock.json ## Rewrite files to the project's format and apply safe lint fixes
	npx biome check --write .

docs: node_modules/.package-lock.json ## Regenerate the docs' generated tables (contracts, metrics, experiments) from their sources
	$(NODE_TS) scripts/gen-docs.ts

dashboards: node_modules/.package-lock.json ## Regenerate grafana/dashboards/*.json from grafana/src/dashboards.ts
	$(NODE_TS) grafana/src/write-dashboards.ts

proto: node_modules/.package-lock.json ## Regenerate the committed protobuf-es code from proto/ (buf + protoc-gen-es)
	node --conditions=source --import tsx scripts/gen-proto.ts

proto-check: node_modules/.package-lock.json ## Fail when the generated protobuf-es code drifted from proto/
	node --conditions=source --import tsx scripts/gen-proto.ts --check

# test-deps (make/deps.mk) first: on a fresh Debian/Ubuntu machine it installs what the tests need;
# when everything is there it says nothing and takes seconds.
test: test-deps typecheck lint proto-check ## Install what the tests need when missing, then everything that can be checked without a cluster
	node scripts/run-tests.mjs

run: node_modules/.package-lock.json ## Both services (+ a private Redis when redis-server exists and REDIS_URL is unset); Ctrl-C stops all
	$(NODE_TS) scripts/run-local.ts

clean: ## Remove build output
	rm -rf services/*/dist measure/dist lab/dist experiments/dist services/*/tsconfig.tsbuildinfo measure/tsconfig.tsbuildinfo lab/tsconfig.tsbuildinfo experiments/tsconfig.tsbuildinfo

# Lab (make up/down), Kubernetes (make deploy…), experiments and benchmarks live in their own fragments.
-include make/*.mk

bench: build lab-deps ## Floors, each protocol, telemetry on/off, the mesh: req/s, latency, CPU, RSS (BENCH_DURATION_MS shortens rows)
	@$(NEED) go ghz github.com/bojand/ghz/cmd/ghz@v0.120.0 "make bench's gRPC load for B3 (scripts/bench/ghz-load.ts; without it the grpc-js client drives B3, and the row says so)"
	$(NODE_TS) scripts/bench.ts
