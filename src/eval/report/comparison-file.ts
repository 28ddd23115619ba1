// Reading the comparison that `adaptlm compare` writes (RUNDIR/compare.json, src/eval/compare/): one table
// row per fine-tuning method and prompting strategy on the same test examples, each with accuracy and its
// bootstrap interval and its costs. Read structurally and tolerantly (fields may be null or absent), so the
// report keeps working while the comparison gains columns; a different version is refused with the reason.

import { readFileSync } from "node:fs";
import { COMPARE_FILE, COMPARE_REPORT_VERSION } from "../compare/report.js";
import type { BarChartData, ReportTable, ScatterPoint } from "./report-input.js";
import { ReportInputError } from "./report-input.js";

export { COMPARE_FILE };

interface CompareRowLike {
  name?: string;
  kind?: string;
  status?: string;
  skipReason?: string;
  metric?: { value?: number; low?: number; high?: number; correct?: number; total?: number } | null;
  trainableParameters?: number | null;
  storedBytes?: number | null;
  trainingSeconds?: number | null;
  inferenceSecondsPerExample?: number | null;
  tokensPerExample?: number | null;
  cost?: number | null;
  artifacts?: string | null;
}

export interface ComparisonSection {
  table: ReportTable;
  /** Accuracy per row with its interval (null when no row has finished). */
  chart: BarChartData | null;
  /** Fine-tuning rows: accuracy vs trainable parameters. */
  specialists: ScatterPoint[];
  /** Prompting rows: accuracy vs tokens per example. */
  generalists: ScatterPoint[];
  /** Each row's artefact folder (relative to the comparison's folder): an adapter or a prompt run. */
  artifacts: Array<{ row: string; path: string }>;
  /** The task the comparison ran on (its setup), when recorded. */
  task?: string;
}

function finite(value: number | null | undefined): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/**
 * The report sections of one compare.json. `label` names the comparison in titles and legends; `source` is
 * the path shown under the table. Errors: ReportInputError REPORT_BAD_JSON / REPORT_BAD_COMPARE.
 */
export function readComparison(path: string, label: string, source: string): ComparisonSection {
  let parsed: { version?: unknown; rows?: unknown; setup?: { task?: unknown } };
  try {
    parsed = JSON.parse(readFileSync(path, "utf8")) as typeof parsed;
  } catch (error) {
    throw new ReportInputError("REPORT_BAD_JSON", `${path} is not valid JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== "object" || parsed === null || !Array.isArray(parsed.rows))
    throw new ReportInputError("REPORT_BAD_COMPARE", `${path} has no "rows" array: not a comparison file`);
  if (parsed.version !== COMPARE_REPORT_VERSION) {
    throw new ReportInputError(
      "REPORT_BAD_COMPARE",
      `${path} has version ${JSON.stringify(parsed.version)}; this report reads comparison version ${COMPARE_REPORT_VERSION}`,
    );
  }
  const rows = parsed.rows as CompareRowLike[];
  const table: ReportTable = {
    title: `Comparison: ${label}`,
    source,
    columns: [
      "name",
      "kind",
      "accuracy (95% CI)",
      "trainable parameters",
      "stored bytes",
      "tokens / example",
      "training s",
      "inference s / example",
      "cost",
    ],
    rows: rows.map((row) => {
      const metric = row.metric;
      const accuracy =
        metric && typeof metric.value === "number"
          ? typeof metric.low === "number" && typeof metric.high === "number"
            ? { value: metric.value, low: metric.low, high: metric.high, percent: true }
            : metric.value
          : row.status === "skipped"
            ? `skipped${row.skipReason ? `: ${row.skipReason}` : ""}`
            : null;
      return [
        String(row.name ?? "?"),
        row.kind === "method"
          ? "fine-tuning"
          : row.kind === "strategy"
            ? "prompting"
            : String(row.kind ?? "?"),
        accuracy,
        finite(row.trainableParameters),
        finite(row.storedBytes),
        finite(row.tokensPerExample),
        finite(row.trainingSeconds),
        finite(row.inferenceSecondsPerExample),
        finite(row.cost),
      ];
    }),
  };
  const done = rows.filter((r) => typeof r.metric?.value === "number");
  const chart: BarChartData | null =
    done.length === 0
      ? null
      : {
          kind: "bars",
          title: `Accuracy with 95% CI: ${label}`,
          xLabel: "method / strategy",
          yLabel: "accuracy",
          percent: true,
          bars: done.map((r) => ({
            category: String(r.name),
            group: r.kind === "method" ? "fine-tuning" : "prompting",
            value: r.metric?.value as number,
            ...(typeof r.metric?.low === "number" && typeof r.metric?.high === "number"
              ? { low: r.metric.low, high: r.metric.high }
              : {}),
          })),
        };
  const specialists: ScatterPoint[] = [];
  const generalists: ScatterPoint[] = [];
  for (const row of done) {
    const y = row.metric?.value as number;
    const parameters = finite(row.trainableParameters);
    const tokens = finite(row.tokensPerExample);
    if (row.kind === "method" && parameters !== null && parameters > 0)
      specialists.push({ label: String(row.name), x: parameters, y, group: label });
    if (row.kind !== "method" && tokens !== null)
      generalists.push({ label: String(row.name), x: tokens, y, group: label });
  }
  const artifacts = rows
    .filter((r) => typeof r.artifacts === "string" && r.artifacts !== "")
    .map((r) => ({ row: String(r.name ?? "?"), path: r.artifacts as string }));
  const section: ComparisonSection = { table, chart, specialists, generalists, artifacts };
  if (typeof parsed.setup?.task === "string") section.task = parsed.setup.task;
  return section;
}
