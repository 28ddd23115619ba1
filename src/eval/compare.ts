// `adaptlm compare`: one task, specialist rows (fine-tuning methods on an encoder) and generalist rows
// (prompting strategies on a language model) measured on the same held-out test examples, in one table:
// accuracy with a 95% bootstrap interval, trainable parameters, bytes stored per task, training time, tokens,
// time and money per test example. The table and its setup go to RUNDIR/compare.json after every row
// (schema: src/eval/compare/report.ts), so `resume` skips finished rows; prompting rows also resume per
// example through their results stores. The library never prints: progress goes through onEvent.

import { existsSync, mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { readHfConfig } from "../io/hf-config.js";
import type { LanguageModel } from "../lm/language-model.js";
import type { ModelPrice } from "../lm/usage-meter.js";
import type { TrainMethod } from "../train/train-run.js";
import type { TrainerEvent } from "../train/trainer.js";
import { DEFAULT_INSTRUCTION, runGeneralistRow, strategyMismatch } from "./compare/generalist.js";
import {
  COMPARE_FILE,
  COMPARE_REPORT_VERSION,
  CompareError,
  type CompareReport,
  type CompareRow,
  type CompareSetup,
  readCompareReport,
  skippedRow,
  writeCompareReport,
} from "./compare/report.js";
import { parseMethods, parseStrategies } from "./compare/row-specs.js";
import { runSpecialistRow } from "./compare/specialist.js";
import { resolveStored, splitsFingerprint, storedPath } from "./compare/stored-paths.js";
import { loadTaskSplits } from "./compare/task-splits.js";

export { DEFAULT_INSTRUCTION, ROW_USAGE_FILE, type RowUsage } from "./compare/generalist.js";
export * from "./compare/report.js";
export {
  COMPARE_STRATEGIES,
  DEFAULT_METHODS,
  DEFAULT_STRATEGIES,
  parseStrategy,
} from "./compare/row-specs.js";
export { DEFAULT_LEARNING_RATES, folderBytes } from "./compare/specialist.js";

export interface CompareOptions {
  /** A data file (split with the seed) or a folder with train / [validation] / test files. */
  task: string;
  textField?: string;
  labelField?: string;
  /** Held-out share of a single task file. Default 0.2. */
  testFraction?: number;
  /** A BERT-style encoder folder: needed for method rows. */
  encoder?: string;
  methods?: readonly string[];
  /** The language model of the strategy rows (the CLI builds it with src/lm/stack.ts). */
  lm?: LanguageModel;
  /** The server URL the lm talks to (recorded in the setup), or undefined for a local model. */
  endpoint?: string;
  strategies?: readonly string[];
  /** Self-consistency paths. Default 5. */
  samples?: number;
  seed?: number;
  maxSteps?: number;
  epochs?: number;
  batchSize?: number;
  /** Overrides every method's default learning rate (DEFAULT_LEARNING_RATES). */
  learningRate?: number;
  maxLength?: number;
  /** The instruction of the "instructions" strategy. */
  instruction?: string;
  /** $ (or any unit) per million tokens of the lm; money per row when given. */
  price?: ModelPrice;
  /** Bootstrap resamples for the intervals. Default 1000. */
  bootstrapSamples?: number;
  outputDir: string;
  /** Continue the comparison in outputDir: finished rows are kept, the others run. */
  resume?: boolean;
  onEvent?: (event: CompareEvent) => void;
}

export type CompareEvent =
  | { type: "setup"; setup: CompareSetup; rows: number; file: string }
  | { type: "row-start"; name: string; kind: "method" | "strategy"; index: number; total: number }
  /** A finished row read back from compare.json (resume): not recomputed. */
  | { type: "row-reused"; row: CompareRow; index: number; total: number }
  | { type: "train-progress"; name: string; event: TrainerEvent }
  | { type: "prompt-progress"; name: string; done: number; total: number; correct: number; resumed: number }
  | { type: "row-done"; row: CompareRow; index: number; total: number }
  /** A strategy that does not fit the task: row.skipReason says why (no row-start precedes it). */
  | { type: "row-skipped"; row: CompareRow; index: number; total: number };

function bad(message: string): never {
  throw new CompareError("COMPARE_BAD_OPTION", message);
}

function checkPositiveInteger(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1))
    bad(`${name} must be a positive integer, got ${value}`);
}

/** What differs between a recorded setup and this one (an encoder or lm recorded as null may be added). */
/**
 * What differs between the recorded setup and this run's. Paths are compared as locations (relative ones
 * from the comparison folder); the task also matches by the split files it produced, so a moved task (or a
 * folder moved together with the task inside it) still resumes. Older setups, without `data`, compare by path.
 */
function setupDifferences(runDir: string, before: CompareSetup, now: CompareSetup): string[] {
  const out: string[] = [];
  const located = (setup: CompareSetup): CompareSetup => ({
    ...setup,
    task: resolveStored(runDir, setup.task),
    ...(setup.encoder
      ? { encoder: { ...setup.encoder, folder: resolveStored(runDir, setup.encoder.folder) } }
      : {}),
  });
  const a = located(before);
  const b = located(now);
  for (const key of Object.keys(now) as Array<keyof CompareSetup>) {
    if ((key === "encoder" || key === "lm") && (a[key] === null || b[key] === null)) continue;
    if (key === "data" && before.data === undefined) continue;
    if (key === "task" && before.data !== undefined && before.data === now.data) continue;
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key]))
      out.push(`${key}: recorded ${JSON.stringify(a[key])}, now ${JSON.stringify(b[key])}`);
  }
  return out;
}

/** Runs every requested row not yet in RUNDIR/compare.json and returns the whole report. */
export async function runComparison(options: CompareOptions): Promise<CompareReport> {
  const methodNames = options.methods ?? [];
  const strategyNames = options.strategies ?? [];
  if (!options.encoder && !options.lm)
    throw new CompareError(
      "COMPARE_NOTHING_TO_COMPARE",
      "compare needs an encoder (--encoder <BERT-style folder>) for fine-tuning rows and/or a language model (--lm <folder or .bin>, or --endpoint URL --model NAME) for prompting rows",
    );
  const methods = parseMethods(methodNames);
  const strategies = parseStrategies(strategyNames);
  if (methods.length > 0 && !options.encoder)
    throw new CompareError(
      "COMPARE_NO_ENCODER",
      `methods ${methods.join(", ")} need --encoder <BERT-style model folder>`,
    );
  if (strategies.length > 0 && !options.lm)
    throw new CompareError(
      "COMPARE_NO_LM",
      `strategies ${strategyNames.join(", ")} need a language model: --lm <folder or .bin>, or --endpoint URL --model NAME`,
    );
  if (methods.length + strategies.length === 0)
    bad("nothing to run: request at least one method or strategy");
  for (const [name, value] of [
    ["samples", options.samples],
    ["maxSteps", options.maxSteps],
    ["epochs", options.epochs],
    ["batchSize", options.batchSize],
    ["maxLength", options.maxLength],
    ["bootstrapSamples", options.bootstrapSamples],
  ] as const)
    checkPositiveInteger(name, value);
  if (options.seed !== undefined && !Number.isInteger(options.seed))
    bad(`seed must be an integer, got ${options.seed}`);
  if (
    options.learningRate !== undefined &&
    !(options.learningRate > 0 && Number.isFinite(options.learningRate))
  )
    bad(`learningRate must be a positive number, got ${options.learningRate}`);
  if (options.encoder && !existsSync(options.encoder))
    throw new CompareError("COMPARE_ENCODER_MISSING", `encoder folder ${options.encoder} does not exist`);

  const runDir = options.outputDir;
  const previous = readCompareReport(runDir);
  if (previous && !options.resume)
    throw new CompareError(
      "COMPARE_OUT_EXISTS",
      `${runDir} already holds a comparison (${COMPARE_FILE}): pass --resume to continue it, or choose another --out`,
    );
  mkdirSync(runDir, { recursive: true });

  const seed = options.seed ?? 0;
  const textField = options.textField ?? "text";
  const labelField = options.labelField ?? "label";
  const splits = loadTaskSplits(options.task, runDir, {
    textField,
    labelField,
    seed,
    ...(options.testFraction !== undefined ? { testFraction: options.testFraction } : {}),
  });
  const encoderConfig = options.encoder ? readHfConfig(options.encoder) : null;
  const maxLength =
    options.maxLength ??
    (encoderConfig ? Math.min(128, encoderConfig.maxPositions - encoderConfig.positionIdOffset) : 128);
  const batchSize = options.batchSize ?? 16;
  const bootstrap = { samples: options.bootstrapSamples ?? 1000, level: 0.95, seed };
  const setup: CompareSetup = {
    task: storedPath(runDir, options.task),
    data: splitsFingerprint(splits.files),
    split: splits.split,
    fields: { text: textField, label: labelField },
    trainExamples: splits.train.length,
    validationExamples: splits.validation.length,
    testExamples: splits.test.length,
    labels: splits.labels,
    seed,
    encoder: options.encoder
      ? {
          folder: storedPath(runDir, options.encoder),
          maxSteps: options.maxSteps ?? null,
          epochs: options.epochs ?? null,
          batchSize,
          learningRate: options.learningRate ?? null,
          maxLength,
        }
      : null,
    lm: options.lm
      ? {
          model: options.lm.model,
          endpoint: options.endpoint ?? null,
          samples: options.samples ?? 5,
          instruction: options.instruction ?? DEFAULT_INSTRUCTION,
          prices: options.price ?? null,
        }
      : null,
    bootstrap,
  };
  if (previous) {
    const differences = setupDifferences(runDir, previous.setup, setup);
    if (differences.length > 0)
      throw new CompareError(
        "COMPARE_SETUP_MISMATCH",
        `${runDir} holds a comparison with a different setup (${differences.join("; ")}): resume with the same options, or choose another --out`,
      );
    setup.encoder ??= previous.setup.encoder;
    setup.lm ??= previous.setup.lm;
  }

  const now = new Date().toISOString();
  const requested = [
    ...methods.map((name) => ({ name, kind: "method" as const })),
    ...strategies.map((spec) => ({ name: spec.name, kind: "strategy" as const, spec })),
  ];
  const finished = new Map((previous?.rows ?? []).map((row) => [`${row.kind}:${row.name}`, row]));
  const report: CompareReport = {
    version: COMPARE_REPORT_VERSION,
    setup,
    rows: [],
    startedAt: previous?.startedAt ?? now,
    updatedAt: now,
  };
  // Rows of earlier runs that are not requested now stay in the file, after the requested ones.
  const keptRows = (previous?.rows ?? []).filter(
    (row) => !requested.some((r) => r.kind === row.kind && r.name === row.name),
  );
  const save = (): void => {
    report.updatedAt = new Date().toISOString();
    writeCompareReport(runDir, { ...report, rows: [...report.rows, ...keptRows] });
  };
  save();
  const emit = (event: CompareEvent): void => options.onEvent?.(event);
  emit({ type: "setup", setup, rows: requested.length, file: resolve(runDir, COMPARE_FILE) });

  const total = requested.length;
  for (const [index, request] of requested.entries()) {
    const done = finished.get(`${request.kind}:${request.name}`);
    if (done) {
      report.rows.push(done);
      save();
      emit({ type: "row-reused", row: done, index, total });
      continue;
    }
    const mismatch = request.kind === "strategy" ? strategyMismatch(request.spec, splits) : null;
    let row: CompareRow;
    if (mismatch !== null) row = skippedRow(request.name, mismatch);
    else if (request.kind === "method") {
      emit({ type: "row-start", name: request.name, kind: request.kind, index, total });
      row = runSpecialistRow({
        encoder: options.encoder as string,
        splits,
        textField,
        labelField,
        method: request.name as TrainMethod,
        runDir,
        seed,
        ...(options.maxSteps !== undefined ? { maxSteps: options.maxSteps } : {}),
        ...(options.epochs !== undefined ? { epochs: options.epochs } : {}),
        batchSize,
        ...(options.learningRate !== undefined ? { learningRate: options.learningRate } : {}),
        maxLength,
        positions: encoderConfig ? encoderConfig.maxPositions - encoderConfig.positionIdOffset : maxLength,
        // A method folder without a finished row is an interrupted training run: continue its checkpoint.
        resume: options.resume ?? false,
        bootstrap,
        onTrainerEvent: (event) => emit({ type: "train-progress", name: request.name, event }),
      });
    } else {
      const spec = request.spec;
      emit({ type: "row-start", name: request.name, kind: request.kind, index, total });
      row = await runGeneralistRow({
        lm: options.lm as LanguageModel,
        endpoint: options.endpoint ?? null,
        splits,
        spec,
        runDir,
        seed,
        samples: options.samples ?? 5,
        instruction: options.instruction ?? DEFAULT_INSTRUCTION,
        price: options.price ?? null,
        bootstrap,
        onProgress: (progress) => emit({ type: "prompt-progress", name: spec.name, ...progress }),
      });
    }
    report.rows.push(row);
    save();
    emit({ type: row.status === "skipped" ? "row-skipped" : "row-done", row, index, total });
  }
  return { ...report, rows: [...report.rows, ...keptRows] };
}
