// An experiment's result.json as a section of `adaptlm report`: its main table (accuracy cells with their
// bootstrap interval, the setup in the note), its further tables, and its plot.

import { existsSync, readFileSync } from "node:fs";
import type { ReportChart, ReportTable } from "../report/report-input.js";
import { EXPERIMENT_RESULT_VERSION, type ExperimentResultFile } from "./experiment.js";

export const EXPERIMENT_RESULT_FILE = "result.json";

/** True when `path` is an experiment's result.json (other tools may write a result.json too). */
export function isExperimentResult(path: string): boolean {
  if (!existsSync(path)) return false;
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as Partial<ExperimentResultFile>;
    return typeof parsed.experiment === "string" && Array.isArray(parsed.cells) && Array.isArray(parsed.rows);
  } catch {
    return false;
  }
}

export function readExperimentSection(
  path: string,
  source: string,
): { tables: ReportTable[]; chart: ReportChart } {
  const result = JSON.parse(readFileSync(path, "utf8")) as ExperimentResultFile;
  if (result.version !== EXPERIMENT_RESULT_VERSION)
    throw new Error(
      `experiment result version ${result.version}, this adaptlm reads ${EXPERIMENT_RESULT_VERSION}`,
    );
  const setup = Object.entries(result.setup)
    .map(([key, value]) => `${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join("; ");
  const main: ReportTable = {
    title: `Experiment ${result.experiment}: ${result.title}`,
    source,
    columns: [...result.rowKeys, "accuracy (95% CI)", "correct/total"],
    rows: result.rows.map((row) => [
      ...result.rowKeys.map((key) => row.coordinates[key] ?? null),
      row.total > 0 ? { value: row.accuracy, low: row.low, high: row.high, percent: true } : null,
      `${row.correct}/${row.total}`,
    ]),
    note: `${result.finding} Setup: ${setup}.${result.complete ? "" : ` Unfinished: ${result.cells.length}/${result.plannedCells} cells.`}`,
  };
  const others: ReportTable[] = result.tables.slice(1).map((table) => ({
    title: `Experiment ${result.experiment}: ${table.title}`,
    source,
    columns: table.columns,
    rows: table.rows,
  }));
  return {
    tables: [main, ...others],
    chart: { ...result.chart, title: `${result.experiment}: ${result.chart.title}` },
  };
}
