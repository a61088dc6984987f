# Experiments (docs/experiments.md): each incident of the seed articles, reproduced and fixed.

.PHONY: experiments experiments-list

experiments: node_modules/.package-lock.json ## Every experiment against the lab, without and with each fix (starts the lab if down)
	$(NODE_TS) experiments/src/cli.ts --all

experiments-list: node_modules/.package-lock.json ## List the experiments and their fixes
	$(NODE_TS) experiments/src/cli.ts --list
