# Experiments (docs/experiments.md): each incident of the seed articles, reproduced and fixed.

.PHONY: experiments experiments-list report-screenshot

experiments: node_modules/.package-lock.json ## Every experiment against the lab, without and with each fix (starts the lab if down)
	$(NODE_TS) experiments/src/cli.ts --all

experiments-list: node_modules/.package-lock.json ## List the experiments and their fixes
	$(NODE_TS) experiments/src/cli.ts --list

# README's picture of a report, from a real run on a private lab (scripts/report-screenshot.ts).
EXPERIMENT ?= redis-scan-latency
DURATION ?=
report-screenshot: node_modules/.package-lock.json lab-deps ## Run EXPERIMENT (default redis-scan-latency; DURATION=<s> per phase) on a private lab and photograph its report into docs/report-screenshot.png
	$(NODE_TS) scripts/report-screenshot.ts $(EXPERIMENT) $(DURATION)
