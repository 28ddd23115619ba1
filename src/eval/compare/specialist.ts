// A fine-tuning row of the comparison: train one method with `runTraining` (the same run as `adaptlm train`),
// then load what it saved (the PEFT adapter folder, or the full model) onto a fresh copy of the encoder and
// classify every test example, so the row's accuracy comes from per-example predictions on exactly the test
// examples the prompting rows answer. Loading from disk, rather than keeping the trained model, means the
// number measures what is stored per task.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { BertForSequenceClassification } from "../../heads/sequence-classification.js";
import { writeFileAtomic } from "../../io/atomic-file.js";
import { readSafetensors } from "../../io/safetensors.js";
import { type LoadedModel, requireTokenizer } from "../../models/load-model.js";
import { loadAdapter } from "../../peft/adapter-store.js";
import { type Adapter, forwardWithAdapter } from "../../peft/method.js";
import { noGrad } from "../../tensor/grad-mode.js";
import * as T from "../../tensor/index.js";
import { collate } from "../../train/collate.js";
import { classificationExamples } from "../../train/dataset.js";
import { runTraining, type TrainMethod } from "../../train/train-run.js";
import type { TrainerEvent } from "../../train/trainer.js";
import { accuracyInterval } from "../bootstrap.js";
import { CompareError, type CompareRow, type ExampleOutcome } from "./report.js";
import { rowFolderName } from "./row-specs.js";
import type { TaskSplits } from "./task-splits.js";

/**
 * Peak learning rates when none is given: small for full fine-tuning, larger for the few parameters of the
 * adapters, largest for virtual tokens (the usual ranges; src/train/compare-methods.ts uses the same).
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

export interface SpecialistOptions {
  encoder: string;
  /** Loads the encoder once for every method row (its weights are copied, never changed). */
  loadEncoder: () => LoadedModel;
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

/** A sequence classifier with the encoder's pretrained backbone (as runTraining builds it). */
export function classifierFromEncoder(
  loaded: LoadedModel,
  numLabels: number,
  seed: number,
): BertForSequenceClassification {
  const model = new BertForSequenceClassification(loaded.config, { numLabels, seed });
  const source = new Map(loaded.model.namedParameters());
  noGrad(() => {
    for (const [name, p] of model.bert.namedParameters()) {
      const from = source.get(name);
      if (from && from.size === p.size) p.floats.set(from.floats.subarray(0, from.size));
    }
  });
  return model;
}

/** Sets every parameter from a full model's model.safetensors (as runTraining writes it). */
function loadFullModel(model: BertForSequenceClassification, path: string): void {
  const tensors = readSafetensors(path).tensors;
  noGrad(() => {
    for (const [name, p] of model.namedParameters()) {
      const value = tensors.get(name);
      if (!value || value.data.length !== p.size || !(value.data instanceof Float32Array))
        throw new CompareError(
          "COMPARE_SAVED_MODEL",
          `${path} lacks ${name} (or its size differs): the saved model does not match the encoder; remove the row's folder and rerun`,
        );
      p.floats.set(value.data);
    }
  });
}

/** The predicted label id of each example, batch by batch, without gradients. */
function predict(
  model: BertForSequenceClassification,
  adapter: Adapter | null,
  examples: ReturnType<typeof classificationExamples>["examples"],
  padTokenId: number,
  maxLength: number,
  batchSize: number,
): number[] {
  model.eval();
  const predicted: number[] = [];
  for (let start = 0; start < examples.length; start += batchSize) {
    const batchExamples = examples.slice(start, start + batchSize);
    T.scope(() =>
      noGrad(() => {
        const batch = collate(batchExamples, model.taskType, padTokenId, maxLength);
        const logits = forwardWithAdapter(model, adapter, batch.inputs).outputs.logits as T.Tensor; // [batch, labels]
        const width = logits.shape[1] as number;
        const values = logits.floats;
        for (let b = 0; b < batchExamples.length; b++) {
          let best = 0;
          for (let i = 1; i < width; i++) if (values[b * width + i] > values[b * width + best]) best = i;
          predicted.push(best);
        }
      }),
    );
  }
  return predicted;
}

/** Trains the method, evaluates what it saved on the test split, and returns the finished row. */
export function runSpecialistRow(options: SpecialistOptions): CompareRow {
  const { splits, method } = options;
  const outputDir = join(options.runDir, "train", rowFolderName(method));
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
    maxLength: options.maxLength,
    outputDir,
    resume: options.resume,
    ...(options.onTrainerEvent ? { onEvent: options.onTrainerEvent } : {}),
  });
  const trainingSeconds = (performance.now() - started) / 1000;

  const loaded = options.loadEncoder();
  const tokenizer = requireTokenizer(loaded);
  const labels = (
    JSON.parse(readFileSync(join(result.savedTo, "labels.json"), "utf8")) as { labels: string[] }
  ).labels;
  // Only the text goes in: a test label the train split never had must count as an error, not stop the run.
  const test = classificationExamples(
    splits.test.map((e) => ({ text: e.text })),
    tokenizer,
    { textField: "text", labelField: "label", labels, maxLength: options.maxLength },
  ).examples;

  const inferenceStarted = performance.now();
  const model = classifierFromEncoder(loaded, labels.length, options.seed);
  let adapter: Adapter | null = null;
  if (result.savedKind === "adapter") adapter = loadAdapter(result.savedTo).attach(model);
  else loadFullModel(model, join(result.savedTo, "model.safetensors"));
  const predicted = predict(
    model,
    adapter,
    test,
    loaded.config.padTokenId ?? 0,
    options.maxLength,
    options.batchSize,
  );
  const inferenceSeconds = (performance.now() - inferenceStarted) / 1000;

  const outcomes: ExampleOutcome[] = splits.test.map((example, i) => {
    const answer = labels[predicted[i] as number] ?? null;
    return { id: example.id, correct: answer === example.label, answer };
  });
  writeFileAtomic(
    join(outputDir, "test_predictions.jsonl"),
    outcomes.map((o, i) => `${JSON.stringify({ ...o, gold: splits.test[i]?.label })}\n`).join(""),
  );
  const correct = outcomes.map((o) => o.correct);
  const interval = accuracyInterval(correct, options.bootstrap);
  const hits = correct.filter(Boolean).length;
  const tokens =
    test.reduce((sum, e) => sum + Math.min(e.inputIds.length, options.maxLength), 0) / test.length;
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
      correct: hits,
      total: correct.length,
    },
    trainableParameters: result.trainableParameters,
    baseParameters: result.baseParameters,
    storedBytes: folderBytes(result.savedTo),
    trainingSeconds,
    inferenceSecondsPerExample: inferenceSeconds / test.length,
    tokensPerExample: tokens,
    promptTokensPerExample: tokens,
    completionTokensPerExample: 0,
    cost: null,
    artifacts: relative(options.runDir, result.savedTo),
    examples: outcomes,
    finishedAt: new Date().toISOString(),
  };
}
