// The repository root lives once, in measure/src/repo.ts; k8s' tests import it from here.
export { repoPath, repoRoot } from '@recipe-mesh/measure/repo';
