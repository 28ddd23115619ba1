// A fine-tuning row of the comparison: train one method with `runTraining` (the same run as `adaptlm train`),
// then rebuild the classifier from what it saved (the PEFT adapter folder, or the full model) with
// src/train/predict.ts (as `adaptlm eval` does) and classify every test example, so the row's accuracy comes
// from per-example predictions on exactly the test examples the prompting rows answer. Loading from disk,
// rather than keeping the trained model, means the row measures what is stored per task.

import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { writeFileAtomic } from "../../io/atomic-file.js";
import { accuracyInterval } from "../../train/bootstrap.js";
import { loadClassifier, predictRecords } from "../../train/predict.js";
import { runTraining, type TrainMethod } from "../../train/train-run.js";
import type { TrainerEvent } from "../../train/trainer.js";
import { CompareError, type CompareRow, type ExampleOutcome } from "./report.js";
import { rowFolderName } from "./row-specs.js";
import type { TaskSplits } from "./task-splits.js";

/**
 * Peak learning rates when none is given: small for full fine-tuning, larger for the few parameters of the
 * adapters, largest for virtual tokens (the ranges src/train/compare-methods.ts uses).
 */
export const DEFAULT_LEARNING_RATES: Readonly<Record<TrainMethod, number>> = {
  full: 1e-4,
  bitfit: 1e-3,
  houlsby: 1e-3,
  "adapter-bias": 1e-3,
  lora: 1e-3,
  prefix: 1e-2,
  prompt: 3e-2,
};

/** Virtual tokens of prefix and prompt tuning (runTraining's default, passed explicitly to stay in step). */
export const VIRTUAL_TOKENS = 20;

export interface SpecialistOptions {
  encoder: string;
  splits: TaskSplits;
  textField: string;
  labelField: string;
  method: TrainMethod;
  runDir: string;
  seed: number;
  maxSteps?: number;
  epochs?: number;
  batchSize: number;
  learningRate?: number;
  maxLength: number;
  /** Positions of the encoder's table (max_position_embeddings less any offset). */
  positions: number;
  resume: boolean;
  bootstrap: { samples: number; level: number; seed: number };
  onTrainerEvent?: (event: TrainerEvent) => void;
}

/** Bytes of every file in a folder (not recursive: adapter and model folders are flat). */
export function folderBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true }))
    if (entry.isFile()) total += statSync(join(dir, entry.name)).size;
  return total;
}

/** Trains the method, evaluates what it saved on the test split, and returns the finished row. */
export function runSpecialistRow(options: SpecialistOptions): CompareRow {
  const { splits, method } = options;
  const outputDir = join(options.runDir, "train", rowFolderName(method));
  // Prompt tuning puts its virtual tokens in front of the input, in the model's position table (prefix tuning
  // is checked the same way in peft/method.ts): leave room for them, in training and at test time alike.
  const virtual = method === "prefix" || method === "prompt" ? VIRTUAL_TOKENS : 0;
  const maxLength = Math.min(options.maxLength, options.positions - virtual);
  if (maxLength < 1)
    throw new CompareError(
      "COMPARE_BAD_OPTION",
      `${method} needs ${virtual} virtual tokens but the encoder has only ${options.positions} positions`,
    );
  const started = performance.now();
  const result = runTraining({
    model: options.encoder,
    train: splits.files.train,
    ...(splits.files.validation ? { eval: splits.files.validation } : {}),
    textField: options.textField,
    labelField: options.labelField,
    method,
    ...(options.maxSteps !== undefined ? { maxSteps: options.maxSteps } : {}),
    ...(options.epochs !== undefined ? { epochs: options.epochs } : {}),
    batchSize: options.batchSize,
    learningRate: options.learningRate ?? DEFAULT_LEARNING_RATES[method],
    seed: options.seed,
    maxLength,
    ...(virtual > 0 ? { virtualTokens: virtual } : {}),
    outputDir,
    resume: options.resume,
    ...(options.onTrainerEvent ? { onEvent: options.onTrainerEvent } : {}),
  });
  const trainingSeconds = (performance.now() - started) / 1000;

  const inferenceStarted = performance.now();
  // The seed rebuilds a pooler the checkpoint lacks exactly as training initialised it.
  const classifier = loadClassifier({
    model: options.encoder,
    adapter: result.savedTo,
    seed: options.seed,
    maxLength,
  });
  // Only the text goes in: a test label the train split never had must count as an error, not stop the run.
  const predictions = predictRecords(
    classifier,
    splits.test.map((e) => ({ text: e.text })),
    { textField: "text", batchSize: options.batchSize },
  );
  const inferenceSeconds = (performance.now() - inferenceStarted) / 1000;
  const tokens =
    splits.test.reduce(
      (sum, e) =>
        sum +
        Math.min(classifier.tokenizer.encode(e.text).ids.length, maxLength) +
        (method === "prompt" ? virtual : 0),
      0,
    ) / splits.test.length;

  const outcomes: ExampleOutcome[] = splits.test.map((example, i) => {
    const answer = predictions[i]?.label ?? null;
    return { id: example.id, correct: answer === example.label, answer };
  });
  writeFileAtomic(
    join(outputDir, "test_predictions.jsonl"),
    outcomes.map((o, i) => `${JSON.stringify({ ...o, gold: splits.test[i]?.label })}\n`).join(""),
  );
  const correct = outcomes.map((o) => o.correct);
  const interval = accuracyInterval(correct, options.bootstrap);
  return {
    name: method,
    kind: "method",
    status: "done",
    metric: {
      name: "accuracy",
      value: interval.value,
      low: interval.low,
      high: interval.high,
      level: interval.level,
      correct: correct.filter(Boolean).length,
      total: correct.length,
    },
    trainableParameters: result.trainableParameters,
    baseParameters: result.baseParameters,
    storedBytes: folderBytes(result.savedTo),
    trainingSeconds,
    inferenceSecondsPerExample: inferenceSeconds / splits.test.length,
    tokensPerExample: tokens,
    promptTokensPerExample: tokens,
    completionTokensPerExample: 0,
    cost: null,
    artifacts: relative(options.runDir, result.savedTo),
    examples: outcomes,
    finishedAt: new Date().toISOString(),
  };
}
