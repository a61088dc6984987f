// `make fuzz`: the same schemathesis runs as `make test` (scripts/fuzz/fuzz.lab.test.ts) with a
// larger budget, against a private lab on free ports. FUZZ_MAX_EXAMPLES and FUZZ_SEED override it.
import { findBinary } from '@recipe-mesh/measure/binaries';
import { startPrivateLab } from '@recipe-mesh/lab/private-lab';
import { graphqlSdlFile, longBudget, runSchemathesis } from './schemathesis.js';
import { labTargets } from './targets.js';

const binary = findBinary('schemathesis');
if (!binary) {
  console.error('schemathesis not found: pip install schemathesis');
  process.exit(2);
}
const budget = {
  maxExamples: Number(process.env.FUZZ_MAX_EXAMPLES ?? longBudget.maxExamples),
  seed: Number(process.env.FUZZ_SEED ?? longBudget.seed),
};
const lab = await startPrivateLab((line) => console.error(line));
const sdl = graphqlSdlFile();
let failed = 0;
try {
  for (const target of labTargets(lab.state, sdl.file)) {
    console.log(`== ${target.name} (${budget.maxExamples} examples per operation, seed ${budget.seed})`);
    const run = await runSchemathesis(binary, target, budget);
    if (run.code !== 0) {
      failed++;
      console.log(run.output);
    }
    console.log(`${run.code === 0 ? 'PASS' : 'FAIL'} ${target.name}: ${run.summary}`);
  }
} finally {
  await lab.stop();
  sdl.remove();
}
process.exit(failed ? 1 : 0);
