# Reliability (docs/reliability.md): fuzzing from the published contracts and a long soak.
# `make test` runs the short versions (scripts/fuzz/*.test.ts, scripts/drills/*.test.ts).

.PHONY: fuzz soak

fuzz: node_modules/.package-lock.json ## schemathesis against a private lab (web-api once per via) with a large budget (FUZZ_MAX_EXAMPLES, FUZZ_SEED)
	$(NODE_TS) scripts/fuzz/run.ts

soak: node_modules/.package-lock.json ## 10 min through the mesh at half the max rate; fails on resource growth (SOAK_DURATION=10m)
	$(NODE_TS) scripts/soak/run.ts
