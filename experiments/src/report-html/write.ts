import { writeFile } from 'node:fs/promises';
import type { RunReport } from '../report.js';
import { renderReportHtml } from './render.js';
import { reportView } from './view.js';

/** Writes the run's HTML page beside its JSON report (same name, `.html`) and returns its path. */
export async function writeReportHtml(
  report: RunReport & { repeat?: { k: number; n: number } },
  jsonFile: string,
): Promise<string> {
  const file = jsonFile.replace(/\.json$/, '.html');
  await writeFile(file, renderReportHtml(reportView(report)));
  return file;
}

/**
 * After `--repeat N`, the last run's JSON and page carry `k/N`: how many of the N runs reproduced
 * (the expectation held), so the banner a reader opens states the repeat result.
 */
export async function recordRepeat(
  report: RunReport,
  jsonFile: string,
  repeat: { k: number; n: number },
): Promise<string> {
  const repeated = { ...report, repeat };
  await writeFile(jsonFile, `${JSON.stringify(repeated, null, 2)}\n`);
  return writeReportHtml(repeated, jsonFile);
}
