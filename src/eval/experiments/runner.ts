// Runs one experiment into <out>/<experiment>/: each planned cell not yet in result.json is run (its prompting
// run resumes per example from its own results store under cells/<key>/), result.json is rewritten
// atomically after every cell (so an interrupted experiment keeps what it finished), and at the end the plot
// is rendered to plot.svg with the report's chart builders. A result.json written with a different setup is
// refused rather than mixed with new cells.

import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { writeFileAtomic } from "../../io/atomic-file.js";
import type { LanguageModel } from "../../lm/language-model.js";
import { stableStringify } from "../../lm/language-model.js";
import { chartSpec, renderSvg } from "../report/charts.js";
import {
  type CellResult,
  EXPERIMENT_RESULT_VERSION,
  type ExperimentDefinition,
  ExperimentError,
  type ExperimentEvent,
  type ExperimentPlan,
  type ExperimentResultFile,
  type ExperimentSettings,
} from "./experiment.js";
import { encodeCorrect, rowsTable } from "./summary.js";

export const RESULT_FILE = "result.json";
export const PLOT_FILE = "plot.svg";

export interface RunExperimentOptions {
  /** Parent folder; the experiment writes <out>/<name>/. */
  out: string;
  /** Model names as given (folders or served names); the first is the default model. */
  models: string[];
  endpoint?: string;
  quick?: boolean;
  /** Override the experiment's default seeds / examples per cell. */
  seeds?: number;
  examples?: number;
  /** The LanguageModel for a model name (the CLI builds the stack; tests give scripted models). */
  languageModel: (model: string) => LanguageModel;
  onEvent?: (event: ExperimentEvent) => void;
  signal?: AbortSignal;
  now?: () => Date;
}

export interface RunExperimentResult {
  dir: string;
  result: ExperimentResultFile;
  /** Cells run by this call (the others were finished before). */
  ran: number;
  skipped: number;
  plotPath: string;
}

/** The settings an experiment sees: sizes from the options or its defaults, models by short name. */
export function experimentSettings(
  experiment: ExperimentDefinition,
  options: Pick<RunExperimentOptions, "models" | "endpoint" | "quick" | "seeds" | "examples">,
): ExperimentSettings {
  if (options.models.length === 0)
    throw new ExperimentError("EXPERIMENT_NO_MODEL", "an experiment needs at least one model");
  const quick = options.quick ?? false;
  const sizes = quick ? experiment.defaults.quick : experiment.defaults.full;
  const seeds = options.seeds ?? sizes.seeds;
  const examples = options.examples ?? sizes.examples;
  for (const [name, value] of [
    ["seeds", seeds],
    ["examples", examples],
  ] as const) {
    if (!Number.isInteger(value) || value < 1)
      throw new ExperimentError("EXPERIMENT_BAD_SIZE", `${name} must be a positive integer, got ${value}`);
  }
  const models = experiment.multiModel ? options.models : options.models.slice(0, 1);
  return {
    models,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    quick,
    seeds,
    examples,
  };
}

/** A model's name in coordinates and tables: its folder's base name (the setup keeps the full name). */
export function modelLabel(model: string): string {
  return basename(model.replace(/[/\\]+$/, "")) || model;
}

export async function runExperiment(
  experiment: ExperimentDefinition,
  options: RunExperimentOptions,
): Promise<RunExperimentResult> {
  const now = options.now ?? (() => new Date());
  const settings = experimentSettings(experiment, options);
  const byLabel = new Map<string, string>();
  for (const model of settings.models) {
    const label = modelLabel(model);
    if (byLabel.has(label) && byLabel.get(label) !== model)
      throw new ExperimentError(
        "EXPERIMENT_MODEL_NAMES",
        `two models share the name "${label}" (${byLabel.get(label)} and ${model}): copy one to a folder with another name`,
      );
    byLabel.set(label, model);
  }
  const plan = experiment.plan(settings);
  const setup = { experiment: experiment.name, ...plan.setup };
  const dir = resolve(options.out, experiment.name);
  mkdirSync(dir, { recursive: true });
  const resultPath = join(dir, RESULT_FILE);
  const finished = new Map<string, CellResult>();
  if (existsSync(resultPath)) {
    const previous = readResultFile(resultPath);
    if (stableStringify(previous.setup) !== stableStringify(setup)) {
      throw new ExperimentError(
        "EXPERIMENT_SETUP_MISMATCH",
        `${resultPath} was written with another setup (${setupDifference(previous.setup, setup)}): ` +
          "re-run with the same options, or choose another --out",
      );
    }
    for (const cell of previous.cells) finished.set(cell.key, cell);
  }
  const planned = new Set(plan.cells.map((cell) => cell.key));
  if (planned.size !== plan.cells.length)
    throw new ExperimentError("EXPERIMENT_DUPLICATE_CELL", `${experiment.name} plans two cells with one key`);

  const write = (): ExperimentResultFile => {
    const cells = plan.cells.flatMap((cell) => {
      const done = finished.get(cell.key);
      return done ? [done] : [];
    });
    const summary = experiment.summarize(cells, { ...plan, setup });
    const result: ExperimentResultFile = {
      version: EXPERIMENT_RESULT_VERSION,
      experiment: experiment.name,
      title: experiment.title,
      finding: experiment.finding,
      setup,
      complete: cells.length === plan.cells.length,
      plannedCells: plan.cells.length,
      cells,
      rowKeys: summary.rowKeys,
      rows: summary.rows,
      tables: [rowsTable(experiment.title, summary.rowKeys, summary.rows), ...(summary.tables ?? [])],
      chart: summary.chart,
      updatedAt: now().toISOString(),
    };
    writeFileAtomic(resultPath, `${JSON.stringify(result, null, 2)}\n`);
    return result;
  };

  let ran = 0;
  let skipped = 0;
  const total = plan.cells.length;
  for (const [index, cell] of plan.cells.entries()) {
    if (finished.has(cell.key)) {
      skipped++;
      options.onEvent?.({ type: "cell-skip", index, total, cell });
      continue;
    }
    options.signal?.throwIfAborted();
    options.onEvent?.({ type: "cell-start", index, total, cell });
    const runDir = join("cells", cell.key);
    mkdirSync(join(dir, runDir), { recursive: true });
    const outcome = await experiment.runCell(
      cell,
      {
        settings,
        dir: join(dir, runDir),
        lm: (label) => {
          // a cell names its model by label (classification grids) or by its full name (one-model runs)
          const model = byLabel.get(label) ?? (settings.models.includes(label) ? label : undefined);
          if (model === undefined)
            throw new ExperimentError("EXPERIMENT_UNKNOWN_MODEL", `cell asks for unknown model "${label}"`);
          return options.languageModel(model);
        },
        ...(options.signal ? { signal: options.signal } : {}),
        onExample: (done, count, correct) =>
          options.onEvent?.({ type: "example", cell, done, total: count, correct }),
      },
      { ...plan, setup },
    );
    const result: CellResult = {
      key: cell.key,
      coordinates: cell.coordinates,
      runDir,
      measurements: outcome.measurements.map((m) => ({
        coordinates: m.coordinates,
        correct: encodeCorrect(m.correct),
        accuracy: m.correct.length === 0 ? 0 : m.correct.filter(Boolean).length / m.correct.length,
        total: m.correct.length,
        ...(m.excluded ? { excluded: m.excluded } : {}),
      })),
      ...(outcome.extra ? { extra: outcome.extra } : {}),
      finishedAt: now().toISOString(),
    };
    finished.set(cell.key, result);
    ran++;
    write();
    options.onEvent?.({
      type: "cell-done",
      index,
      total,
      cell,
      accuracy: result.measurements[0]?.accuracy ?? 0,
    });
  }
  const result = write();
  options.onEvent?.({ type: "written", path: resultPath });
  const plotPath = join(dir, PLOT_FILE);
  writeFileAtomic(plotPath, await renderSvg(chartSpec(result.chart)));
  options.onEvent?.({ type: "written", path: plotPath });
  return { dir, result, ran, skipped, plotPath };
}

/** Reads and checks a result.json. */
export function readResultFile(path: string): ExperimentResultFile {
  let parsed: ExperimentResultFile;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8")) as ExperimentResultFile;
  } catch (error) {
    throw new ExperimentError(
      "EXPERIMENT_BAD_RESULT",
      `${path} is not valid JSON (${(error as Error).message}): remove it to start the experiment over`,
    );
  }
  if (parsed.version !== EXPERIMENT_RESULT_VERSION || !Array.isArray(parsed.cells)) {
    throw new ExperimentError(
      "EXPERIMENT_BAD_RESULT",
      `${path} has version ${String(parsed.version)}, this adaptlm writes version ${EXPERIMENT_RESULT_VERSION}: ` +
        "remove it or choose another --out",
    );
  }
  return parsed;
}

function setupDifference(before: Record<string, unknown>, now: Record<string, unknown>): string {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(now)])];
  const differing = keys.filter(
    (key) => stableStringify(before[key] ?? null) !== stableStringify(now[key] ?? null),
  );
  return differing
    .map(
      (key) =>
        `${key}: recorded ${stableStringify(before[key] ?? null)}, now ${stableStringify(now[key] ?? null)}`,
    )
    .join("; ");
}

/** The text a CLI shows above the table: every setup entry on its own line. */
export function formatSetup(result: Pick<ExperimentResultFile, "title" | "finding" | "setup">): string {
  const lines = [`${result.title}`, `finding: ${result.finding}`];
  for (const [key, value] of Object.entries(result.setup)) {
    lines.push(`${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
  }
  return lines.join("\n");
}

export type { ExperimentPlan };
