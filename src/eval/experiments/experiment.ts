// What a lecture experiment is: a named finding ("gold labels barely matter", Min et al. 2022), a setup (model,
// tasks, k values, seeds, example counts), a grid of cells (one prompting run each, recorded in its own
// results store), and a summary that turns the cells' per-example correctness into table rows (accuracy with
// a bootstrap interval, pooled over seeds) and series for the plot. The runner (runner.ts) does the rest:
// resume, atomic result.json, plot.svg.

import { AdaptlmError } from "../../errors.js";
import type { LanguageModel } from "../../lm/language-model.js";
import type { ReportChart } from "../report/report-input.js";

export class ExperimentError extends AdaptlmError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}

/** A coordinate of a cell or a measurement: model, task, condition, k, seed... */
export type Coordinate = string | number;
export type Coordinates = Record<string, Coordinate>;

/** The sizes a user may change; each experiment has defaults for full and --quick runs. */
export interface ExperimentSizes {
  /** Seeds (demonstration draws, sampling); seed values are 0..seeds-1. */
  seeds: number;
  /** Evaluated examples per cell. */
  examples: number;
}

export interface ExperimentSettings extends ExperimentSizes {
  /** Model names as recorded in the setup (a folder path, or a server's model name). */
  models: string[];
  /** The server URL when the models are served. */
  endpoint?: string;
  quick: boolean;
}

/** One run of the grid. */
export interface CellSpec {
  /** Unique and file-name safe: the cell's run folder is cells/<key>. */
  key: string;
  coordinates: Coordinates;
}

/** One accuracy measured by a cell: a cell may measure several (self-consistency at 1..N samples). */
export interface CellMeasurement {
  /** Added to the cell's coordinates (e.g. {samples: 3, vote: "weighted"}); {} for the cell itself. */
  coordinates: Coordinates;
  /** Per evaluated example, in task order (examples whose prompt did not fit the model are left out). */
  correct: boolean[];
  /** Examples left out because their prompt was longer than the model's context. */
  excluded?: number;
}

export interface CellOutcome {
  measurements: CellMeasurement[];
  /** Anything else the summary needs (vote distributions, cost), JSON-serialisable. */
  extra?: Record<string, unknown>;
}

export type ExperimentEvent =
  | { type: "cell-start"; index: number; total: number; cell: CellSpec }
  | { type: "cell-skip"; index: number; total: number; cell: CellSpec }
  | { type: "example"; cell: CellSpec; done: number; total: number; correct: number }
  | { type: "cell-done"; index: number; total: number; cell: CellSpec; accuracy: number }
  | { type: "written"; path: string };

export interface CellContext {
  settings: ExperimentSettings;
  /** The cell's run folder (a results store lives here). */
  dir: string;
  lm(model: string): LanguageModel;
  signal?: AbortSignal;
  onExample?: (done: number, total: number, correct: number) => void;
}

/** A summary row: one group of measurements pooled over seeds. */
export interface ExperimentRow {
  coordinates: Coordinates;
  accuracy: number;
  correct: number;
  total: number;
  /** 95% percentile bootstrap over the pooled examples. */
  low: number;
  high: number;
  /** Cells pooled (usually one per seed). */
  cells: number;
  /** Examples left out because their prompt did not fit the model's context (not in total). */
  excluded: number;
}

export interface ExperimentTable {
  title: string;
  columns: string[];
  rows: Array<Array<string | number | null>>;
  note?: string;
}

export interface ExperimentSummary {
  /** The main table's rows (pooled over seeds). */
  rows: ExperimentRow[];
  /** The coordinates shown as columns of the main table, in order. */
  rowKeys: string[];
  /** Further tables (vote distributions, cost). */
  tables?: ExperimentTable[];
  chart: ReportChart;
}

/** A finished cell as result.json keeps it. */
export interface CellResult {
  key: string;
  coordinates: Coordinates;
  /** Relative to the experiment folder. */
  runDir: string;
  measurements: Array<{
    coordinates: Coordinates;
    /** "1" correct, "0" wrong, one character per example in task order (compact and recountable). */
    correct: string;
    accuracy: number;
    total: number;
    excluded?: number;
  }>;
  extra?: Record<string, unknown>;
  finishedAt: string;
}

export interface ExperimentPlan {
  /** Everything that defines the numbers (models, data, k values, seeds, example counts...). */
  setup: Record<string, unknown>;
  cells: CellSpec[];
}

export interface ExperimentDefinition {
  name: string;
  title: string;
  /** The lecture's finding the experiment measures, with its source. */
  finding: string;
  defaults: { full: ExperimentSizes; quick: ExperimentSizes };
  /** The lab model used without --model (default "lab-decoder-s"). */
  defaultModel?: string;
  /** Classification experiments may compare several models; the others use the first. */
  multiModel?: boolean;
  plan(settings: ExperimentSettings): ExperimentPlan;
  runCell(cell: CellSpec, context: CellContext, plan: ExperimentPlan): Promise<CellOutcome>;
  summarize(cells: readonly CellResult[], plan: ExperimentPlan): ExperimentSummary;
}

export const EXPERIMENT_RESULT_VERSION = 1;

/** Contents of <out>/<experiment>/result.json. */
export interface ExperimentResultFile {
  version: number;
  experiment: string;
  title: string;
  finding: string;
  setup: Record<string, unknown>;
  /** True when every planned cell has finished. */
  complete: boolean;
  plannedCells: number;
  cells: CellResult[];
  rowKeys: string[];
  rows: ExperimentRow[];
  tables: ExperimentTable[];
  chart: ReportChart;
  updatedAt: string;
}

/** A cell key from its coordinates: "task=sentiment,k=8,seed=0" made file-name safe. */
export function cellKey(coordinates: Coordinates): string {
  return Object.entries(coordinates)
    .map(([name, value]) => `${name}-${String(value)}`)
    .join("_")
    .replace(/[^\w.-]+/g, "-");
}

/** The error code of the local engine (and this folder's cells) for a prompt longer than the model's context. */
export const CONTEXT_TOO_LONG = "CONTEXT_TOO_LONG";

/** True for the error a backend throws when a prompt does not fit the model's context. */
export function isContextTooLong(error: unknown): boolean {
  return error instanceof AdaptlmError && error.code === CONTEXT_TOO_LONG;
}
