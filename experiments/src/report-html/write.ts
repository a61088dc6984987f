import { writeFile } from 'node:fs/promises';
import type { RunReport } from '../report.js';
import { renderReportHtml } from './render.js';
import { reportView } from './view.js';

/** Writes the run's HTML page beside its JSON report (same name, `.html`) and returns its path. */
export async function writeReportHtml(report: RunReport, jsonFile: string): Promise<string> {
  const file = jsonFile.replace(/\.json$/, '.html');
  await writeFile(file, renderReportHtml(reportView(report)));
  return file;
}
