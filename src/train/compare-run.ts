// One run of `adaptlm compare-methods`: a BERT-style encoder folder + a task folder (train / validation /
// test files) -> the same sequence-classification task trained from the same pretrained weights with each
// chosen method (compare-methods.ts does the training, measuring and storing), every method scored on the
// test split. Each method's result lands in outputDir/<method>/ with a labels.json, so `adaptlm eval
// <model> --adapter outputDir/<method>` reads it. Builds everything from options; it never prints.

import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { AdaptlmError } from "../errors.js";
import { writeFileAtomic } from "../io/atomic-file.js";
import { loadLocalModel, requireTokenizer } from "../models/load-model.js";
import {
  compareMethods,
  defaultMethodSpecs,
  type MethodComparisonRow,
  type MethodSpec,
} from "./compare-methods.js";
import {
  type ClassificationFields,
  classificationExamples,
  findSplits,
  readRecordsAsync,
} from "./dataset.js";
import { buildSequenceClassifier } from "./predict.js";
import { classificationMetrics } from "./task-metrics.js";
import type { TrainerEvent } from "./trainer.js";

/** Codes: COMPARE_BAD_OPTION, COMPARE_NO_TEST_SPLIT. */
export class CompareRunError extends AdaptlmError {}

/** Virtual tokens of prefix and prompt tuning in the comparison. */
export const VIRTUAL_TOKENS = 10;

export const COMPARE_METHODS = [
  "full",
  "bitfit",
  "houlsby",
  "adapter-bias",
  "prefix",
  "lora",
  "prompt",
] as const;

export interface CompareRunOptions {
  /** The base model folder (config.json + safetensors + tokenizer files). */
  model: string;
  /** A folder with train and test files (validation is not used: nothing is selected on it here). */
  taskDir: string;
  /** Methods in table order (default: all seven). */
  methods?: string[];
  maxSteps?: number;
  /** Epochs when maxSteps is not given (default 1). */
  epochs?: number;
  batchSize?: number;
  /** Overrides every method's learning rate (default: each method's own, see defaultMethodSpecs). */
  learningRate?: number;
  /** Learning rate of full fine-tuning when learningRate is not given (default 5e-5). */
  fullLearningRate?: number;
  seed?: number;
  maxLength?: number;
  fields?: Pick<ClassificationFields, "textField" | "pairField" | "labelField">;
  outputDir: string;
  /** Called before each method starts training. */
  onMethod?: (method: string, index: number, count: number) => void;
  onEvent?: (event: TrainerEvent) => void;
  onRow?: (row: MethodComparisonRow) => void;
}

export interface CompareRunResult {
  labels: string[];
  trainExamples: number;
  testExamples: number;
  /** One row per method; metrics (accuracy, macro_f1, mcc, loss) are on the test split. */
  rows: MethodComparisonRow[];
}

function bad(message: string): never {
  throw new CompareRunError("COMPARE_BAD_OPTION", message);
}

/** Trains and scores every chosen method; rows come back (and go to onRow) in method order. */
export async function runMethodComparison(options: CompareRunOptions): Promise<CompareRunResult> {
  const names = options.methods ?? [...COMPARE_METHODS];
  if (names.length === 0) bad("methods must name at least one method");
  for (const name of names)
    if (!(COMPARE_METHODS as readonly string[]).includes(name))
      bad(`unknown method "${name}": choose from ${COMPARE_METHODS.join(", ")}`);
  for (const [name, value] of [
    ["maxSteps", options.maxSteps],
    ["epochs", options.epochs],
    ["batchSize", options.batchSize],
    ["maxLength", options.maxLength],
  ] as const) {
    if (value !== undefined && !(Number.isInteger(value) && value >= 1))
      bad(`${name} must be a positive integer, got ${value}`);
  }
  if (!existsSync(options.model)) bad(`model folder ${options.model} does not exist`);
  if (!existsSync(options.taskDir)) bad(`task folder ${options.taskDir} does not exist`);
  const splits = findSplits(options.taskDir);
  if (!splits.test)
    throw new CompareRunError(
      "COMPARE_NO_TEST_SPLIT",
      `${options.taskDir} has no test file (test.jsonl, test.csv, ...): the comparison scores every method on it`,
    );
  const seed = options.seed ?? 42;
  const loaded = loadLocalModel(options.model, { kind: "encoder" });
  const tokenizer = requireTokenizer(loaded);
  const { config } = loaded;
  const positions = config.maxPositions - config.positionIdOffset;
  // Prefix and prompt tuning put VIRTUAL_TOKENS positions in front of the text (see peft/method.ts
  // checkPositions): by default every method gets inputs short enough for them, so all see the same text.
  const withVirtual = names.some((n) => n === "prefix" || n === "prompt");
  const maxLength = options.maxLength ?? Math.min(128, withVirtual ? positions - VIRTUAL_TOKENS : positions);
  if (maxLength < 1)
    bad(`the model has ${positions} positions: too few for ${VIRTUAL_TOKENS} virtual tokens`);
  const fields = { ...options.fields, maxLength };
  const train = classificationExamples(await readRecordsAsync(splits.train as string), tokenizer, fields);
  if (train.labels.length < 2)
    bad(`the training data has ${train.labels.length} distinct label(s); classification needs at least 2`);
  const test = classificationExamples(await readRecordsAsync(splits.test), tokenizer, {
    ...fields,
    labels: train.labels,
  });

  const specs = defaultMethodSpecs({ seed, family: config.family, virtualTokens: VIRTUAL_TOKENS });
  const chosen: MethodSpec[] = names.map((name, index) => {
    const spec = specs.find((s) => s.name === name) as MethodSpec;
    const learningRate =
      options.learningRate ??
      (name === "full" ? (options.fullLearningRate ?? 5e-5) : spec.trainer?.learningRate);
    // A maxLength given explicitly may leave no room for the virtual tokens: those methods cut deeper.
    const virtual = name === "prefix" || name === "prompt" ? VIRTUAL_TOKENS : 0;
    const methodMaxLength = Math.min(maxLength, positions - virtual);
    return {
      ...spec,
      trainer: {
        ...spec.trainer,
        ...(learningRate !== undefined ? { learningRate } : {}),
        ...(methodMaxLength < maxLength ? { maxLength: methodMaxLength } : {}),
      },
      make: () => {
        options.onMethod?.(name, index, names.length);
        return spec.make();
      },
    };
  });
  const rows = compareMethods({
    buildModel: () => buildSequenceClassifier(loaded, train.labels.length, seed),
    methods: chosen,
    trainer: {
      train: train.examples,
      // The test split is scored once, after training: evaluation during training is switched off, so
      // nothing (best checkpoint, early stopping) is chosen on it.
      validation: test.examples,
      evalEvery: Number.MAX_SAFE_INTEGER,
      batchSize: options.batchSize ?? 16,
      epochs: options.epochs ?? (options.maxSteps !== undefined ? 1_000_000 : 1),
      ...(options.maxSteps !== undefined ? { maxSteps: options.maxSteps } : {}),
      seed,
      padTokenId: config.padTokenId ?? 0,
      maxLength,
      metrics: classificationMetrics(train.labels.length),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    },
    outputDir: options.outputDir,
    onRow: (row) => {
      const labelMaps = {
        labels: train.labels,
        id2label: Object.fromEntries(train.labels.map((l, i) => [String(i), l])),
        label2id: Object.fromEntries(train.labels.map((l, i) => [l, i])),
      };
      writeFileAtomic(
        join(options.outputDir, row.method, "labels.json"),
        `${JSON.stringify({ ...labelMaps, base_model: resolve(options.model) }, null, 2)}\n`,
      );
      options.onRow?.(row);
    },
  });
  return {
    labels: train.labels,
    trainExamples: train.examples.length,
    testExamples: test.examples.length,
    rows,
  };
}
