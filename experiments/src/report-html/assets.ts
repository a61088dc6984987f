import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * uPlot's browser build and stylesheet, read from node_modules when a page is rendered and
 * inlined into it, so a report opens with no network and the repo holds no copy of the library.
 * Why uPlot: docs/experiments.md, "Reports".
 */
export interface ChartAssets {
  js: string;
  css: string;
}

let cached: ChartAssets | undefined;

export function chartAssets(): ChartAssets {
  if (!cached) {
    const require = createRequire(import.meta.url);
    cached = {
      js: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
      css: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    };
  }
  return cached;
}
