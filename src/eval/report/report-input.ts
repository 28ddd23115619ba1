// The report's input model: everything `renderReportHtml` draws, as plain JSON-serialisable data. Loaders
// (load-report-input.ts) build it from run folders; any other producer (a comparison command, a notebook, a
// test) may build it directly, so the HTML renderer never reads files and never guesses.
//
// Versioned: `version` is bumped when a field changes meaning or a required field is added; renderers
// reject versions they do not know (checkReportInput) instead of drawing a half-understood report.
//
// Sections:
//   runs      one entry per run: its setup (model, task, strategy or method, seed, options), its metric with a
//             bootstrap confidence interval, and its cost (trainable parameters, bytes, tokens per example)
//   tables    comparison tables (e.g. written by `adaptlm compare`): columns + rows of cells, CI cells allowed
//   charts    line charts (loss curves, accuracy vs k), grouped bars (accuracy with CI, vote distributions)
//             and scatters (the Pareto plot of metric vs cost, optionally log-x)
//   examples  the per-run example browser: the first N examples with prompts, raw outputs, answers and votes
//   skipped   folders or files the loader looked at and could not use, with the reason

import { AdaptlmError } from "../../errors.js";

export const REPORT_INPUT_VERSION = 1;

export class ReportInputError extends AdaptlmError {}

/** A confidence interval, as fractions for rates (0.75 = 75%). */
export interface ReportInterval {
  low: number;
  high: number;
  /** Coverage, e.g. 0.95. */
  level: number;
}

export interface ReportMetric {
  /** e.g. "accuracy", "macro_f1". */
  name: string;
  /** For rates: a fraction in [0, 1]. */
  value: number;
  correct?: number;
  total?: number;
  /** Bootstrap interval over the examples (only where per-example correctness is known). */
  interval?: ReportInterval;
}

export interface ReportCost {
  /** Specialists: parameters trained (and stored) for this task. */
  trainableParameters?: number;
  /** Specialists: trainable parameters as a percentage of the base model's. */
  percentOfBase?: number;
  /** Bytes stored per task (adapter folder, or the whole model for full fine-tuning). */
  storedBytes?: number;
  /** Generalists: prompt + completion tokens per example (measured, or estimated: see tokensEstimated). */
  tokensPerExample?: number;
  /** True when tokensPerExample is estimated from text length (4 characters per token), not counted. */
  tokensEstimated?: boolean;
  /** Model calls per example (prompts sent). */
  callsPerExample?: number;
  seconds?: number;
}

export type RunKind = "prompt" | "train" | "comparison";

export interface ReportRun {
  /** Unique within the report (the folder's path relative to the loaded folder, else the run id). */
  id: string;
  kind: RunKind;
  /** Folder of the run, relative to the loaded folder ("." for a single run folder). */
  path: string;
  model: string;
  /** Server URL without credentials or query string. */
  endpoint?: string;
  task: string;
  /** The prompting strategy (generalists) or training method (specialists). */
  approach: string;
  seed?: number;
  /** Options that shaped the run; secret-looking keys are already redacted by the loader. */
  options: Record<string, unknown>;
  startedAt?: string;
  finishedAt?: string;
  metric?: ReportMetric;
  cost: ReportCost;
  /** Anything the reader should know (e.g. "no eval file: no metric"). */
  notes?: string[];
  /**
   * Set when the run is a row's artefact of a comparison ("compare-sst2: lora"): the comparison's row stands
   * for it in the Pareto plots, so it is not plotted twice.
   */
  comparison?: string;
}

/** A table cell: text, a number, a value with its interval, or empty. */
export type ReportCell =
  | string
  | number
  | null
  | { value: number; low: number; high: number; percent?: boolean };

export interface ReportTable {
  title: string;
  /** Where the table came from (a file path relative to the loaded folder). */
  source?: string;
  columns: string[];
  rows: ReportCell[][];
  note?: string;
}

export interface LinePoint {
  x: number;
  y: number;
}

export interface LineSeries {
  name: string;
  points: LinePoint[];
}

export interface LineChartData {
  kind: "line";
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  logX?: boolean;
  /** Format y values as percentages (values are fractions). */
  percent?: boolean;
}

export interface BarDatum {
  /** The x-axis category (e.g. a run). */
  category: string;
  /** The bar within a category (e.g. a metric, or correct / wrong); one colour per group. */
  group: string;
  value: number;
  /** Error bar (same units as value). */
  low?: number;
  high?: number;
}

export interface BarChartData {
  kind: "bars";
  title: string;
  xLabel: string;
  yLabel: string;
  bars: BarDatum[];
  /** Format values as percentages (values are fractions). */
  percent?: boolean;
}

export interface ScatterPoint {
  label: string;
  x: number;
  y: number;
  /** Colour group, e.g. "specialist" / "generalist". */
  group: string;
}

export interface ScatterChartData {
  kind: "scatter";
  title: string;
  xLabel: string;
  yLabel: string;
  points: ScatterPoint[];
  logX?: boolean;
  percent?: boolean;
  /** Draw the Pareto frontier (fewest x for the most y) through the points. */
  frontier?: boolean;
}

export type ReportChart = LineChartData | BarChartData | ScatterChartData;

export interface ReportVote {
  answer: string;
  count: number;
}

/** One example of a run as the browser shows it. */
export interface ReportExample {
  index: number;
  id: string;
  input: string;
  prompts: string[];
  outputs: string[];
  answers: Array<string | null>;
  answer: string | null;
  votes?: ReportVote[];
  gold: string;
  correct: boolean;
}

export interface ReportExampleSection {
  runId: string;
  /** Examples the run recorded (the section shows the first `examples.length`). */
  total: number;
  examples: ReportExample[];
}

export interface SkippedEntry {
  path: string;
  reason: string;
}

export interface ReportInput {
  version: typeof REPORT_INPUT_VERSION;
  title: string;
  /** What was loaded (a path as the user gave it). */
  source: string;
  runs: ReportRun[];
  tables: ReportTable[];
  charts: ReportChart[];
  examples: ReportExampleSection[];
  skipped: SkippedEntry[];
}

/** Throws ReportInputError (REPORT_INPUT_VERSION / REPORT_INPUT_INVALID) unless `value` looks like a ReportInput. */
export function checkReportInput(value: unknown): ReportInput {
  if (typeof value !== "object" || value === null)
    throw new ReportInputError("REPORT_INPUT_INVALID", "a report input must be a JSON object");
  const input = value as Partial<ReportInput>;
  if (input.version !== REPORT_INPUT_VERSION) {
    throw new ReportInputError(
      "REPORT_INPUT_VERSION",
      `report input version ${String(input.version)} is not supported (this adaptlm reads version ` +
        `${REPORT_INPUT_VERSION}): rebuild it with this version's loader`,
    );
  }
  for (const key of ["runs", "tables", "charts", "examples", "skipped"] as const) {
    if (!Array.isArray(input[key]))
      throw new ReportInputError("REPORT_INPUT_INVALID", `report input field "${key}" must be an array`);
  }
  if (typeof input.title !== "string")
    throw new ReportInputError("REPORT_INPUT_INVALID", 'report input field "title" must be a string');
  return input as ReportInput;
}
