// One training run of `adaptlm train`: a BERT-style encoder folder + a classification data file (single
// sentences or pairs) -> a sequence-classification task model with the pretrained backbone, trained fully or
// through one parameter-efficient method, saved as a PEFT adapter folder (or the whole model for full
// fine-tuning). Builds everything from options and returns numbers; it never prints (progress goes through
// onEvent).

import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { AdaptlmError } from "../errors.js";
import { BertForSequenceClassification } from "../heads/sequence-classification.js";
import { writeFileAtomic } from "../io/atomic-file.js";
import { writeSafetensors } from "../io/safetensors.js";
import { loadLocalModel, requireTokenizer } from "../models/load-model.js";
import { AdapterBiasAdapter } from "../peft/adapter-bias.js";
import { saveAdapter } from "../peft/adapter-store.js";
import { BitFitAdapter } from "../peft/bitfit.js";
import { HoulsbyAdapter } from "../peft/houlsby.js";
import { LoraAdapter } from "../peft/lora.js";
import type { Adapter } from "../peft/method.js";
import { PrefixTuningAdapter } from "../peft/prefix.js";
import { PromptTuningAdapter } from "../peft/prompt-tuning.js";
import { noGrad } from "../tensor/grad-mode.js";
import { classificationExamples, type DataRecord, readRecords } from "./dataset.js";
import { classificationMetrics } from "./task-metrics.js";
import { Trainer, type TrainerEvent } from "./trainer.js";

/** Errors of a training run's setup. Codes: TRAIN_BAD_OPTION, TRAIN_FILE_MISSING, TRAIN_UNSUPPORTED_MODEL, TRAIN_OUT_EXISTS. */
export class TrainRunError extends AdaptlmError {}

export const TRAIN_METHODS = [
  "full",
  "bitfit",
  "houlsby",
  "adapter-bias",
  "prefix",
  "lora",
  "prompt",
] as const;
export type TrainMethod = (typeof TRAIN_METHODS)[number];

export interface TrainRunOptions {
  /** The model folder (config.json + safetensors + tokenizer files). */
  model: string;
  train: string;
  eval?: string;
  /**
   * The records of `train` / `eval` when the caller has read them already: Parquet decodes asynchronously
   * (readRecordsAsync), and training itself is synchronous.
   */
  trainRecords?: DataRecord[];
  evalRecords?: DataRecord[];
  textField?: string;
  textPairField?: string;
  labelField?: string;
  method: TrainMethod;
  /** LoRA rank / alpha / target modules. */
  r?: number;
  alpha?: number;
  targets?: string[];
  /** Prefix and prompt tuning: number of virtual tokens. */
  virtualTokens?: number;
  epochs?: number;
  maxSteps?: number;
  batchSize?: number;
  learningRate?: number;
  seed?: number;
  maxLength?: number;
  /** Evaluate (and checkpoint) every N steps; default once per epoch. */
  evalEvery?: number;
  outputDir: string;
  /** Continue from outputDir/checkpoint; without it an existing checkpoint there is an error. */
  resume?: boolean;
  /**
   * Ignore the folder's weights and start the same architecture from its seeded random initialisation: the
   * baseline that shows what pretraining buys (needs method "full").
   */
  fromScratch?: boolean;
  onEvent?: (event: TrainerEvent) => void;
}

export interface TrainRunResult {
  method: TrainMethod;
  labels: string[];
  trainExamples: number;
  evalExamples: number;
  steps: number;
  totalSteps: number;
  trainableParameters: number;
  /** Parameters of the task model without the adapter (backbone + head). */
  baseParameters: number;
  percentOfBase: number;
  /** Training loss of each optimizer step, in order (this process's steps only when resumed). */
  stepLosses: number[];
  evaluations: { step: number; metrics: Record<string, number> }[];
  /** The last evaluation's metrics ({} without an eval file). */
  finalMetrics: Record<string, number>;
  /** Where the adapter folder (or the full model) was saved. */
  savedTo: string;
  savedKind: "adapter" | "model";
}

function bad(message: string): never {
  throw new TrainRunError("TRAIN_BAD_OPTION", message);
}

function checkPositiveInteger(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1))
    bad(`${name} must be a positive integer, got ${value}`);
}

function makeAdapter(options: TrainRunOptions, seed: number): Adapter | null {
  const common = { seed, baseModelNameOrPath: resolve(options.model), taskType: "SEQ_CLS" };
  const virtual = options.virtualTokens ?? 20;
  switch (options.method) {
    case "full":
      return null;
    case "bitfit":
      return new BitFitAdapter(common);
    case "houlsby":
      return new HoulsbyAdapter(common);
    case "adapter-bias":
      return new AdapterBiasAdapter(common);
    case "lora":
      return new LoraAdapter({
        ...common,
        r: options.r ?? 8,
        alpha: options.alpha ?? 16,
        ...(options.targets ? { targetModules: options.targets } : {}),
      });
    case "prefix":
      return new PrefixTuningAdapter({ ...common, numVirtualTokens: virtual });
    case "prompt":
      return new PromptTuningAdapter({ ...common, numVirtualTokens: virtual, init: { kind: "vocabulary" } });
  }
}

function validate(options: TrainRunOptions): void {
  if (options.fromScratch && options.method !== "full")
    bad(
      `--from-scratch trains every weight: use method "full" (a frozen random backbone with ${options.method} is not a baseline)`,
    );
  if (!(TRAIN_METHODS as readonly string[]).includes(options.method))
    bad(`method must be one of ${TRAIN_METHODS.join(", ")}, got "${options.method}"`);
  for (const [name, value] of [
    ["r", options.r],
    ["virtualTokens", options.virtualTokens],
    ["epochs", options.epochs],
    ["maxSteps", options.maxSteps],
    ["batchSize", options.batchSize],
    ["maxLength", options.maxLength],
    ["evalEvery", options.evalEvery],
  ] as const)
    checkPositiveInteger(name, value);
  if (options.alpha !== undefined && !(options.alpha > 0)) bad(`alpha must be > 0, got ${options.alpha}`);
  if (
    options.learningRate !== undefined &&
    !(options.learningRate > 0 && Number.isFinite(options.learningRate))
  )
    bad(`learningRate must be a positive number, got ${options.learningRate}`);
  if (options.targets !== undefined && options.targets.length === 0)
    bad("targets must name at least one module");
  for (const [what, path] of [
    ["model folder", options.model],
    ["training file", options.train],
    ["eval file", options.eval],
  ] as const) {
    if (path !== undefined && !existsSync(path))
      throw new TrainRunError("TRAIN_FILE_MISSING", `${what} ${path} does not exist`);
  }
  if (existsSync(join(options.outputDir, "checkpoint", "trainer_state.json")) && !options.resume) {
    throw new TrainRunError(
      "TRAIN_OUT_EXISTS",
      `${options.outputDir} already holds a training checkpoint: pass --resume to continue it, or choose another --out`,
    );
  }
}

/** Trains a sequence classifier on the data file(s) and saves the adapter or the model under outputDir. */
export function runTraining(options: TrainRunOptions): TrainRunResult {
  validate(options);
  const seed = options.seed ?? 42;
  const loaded = loadLocalModel(options.model, { kind: "encoder" });
  const { config } = loaded;
  if (config.family !== "bert") {
    throw new TrainRunError(
      "TRAIN_UNSUPPORTED_MODEL",
      `train supports BERT-style encoders (bert, roberta, distilbert); ${options.model} is a ${config.modelType} model`,
    );
  }
  const tokenizer = requireTokenizer(loaded);
  // prefix and prompt tuning put their virtual tokens in front of the text, on positions of their own
  const virtual =
    options.method === "prefix" || options.method === "prompt" ? (options.virtualTokens ?? 20) : 0;
  const positions = config.maxPositions - config.positionIdOffset;
  if (options.maxLength !== undefined && options.maxLength + virtual > positions) {
    bad(
      `maxLength ${options.maxLength} + ${virtual} virtual tokens need ${options.maxLength + virtual} positions but the model has ${positions}: give maxLength <= ${positions - virtual}`,
    );
  }
  const maxLength = options.maxLength ?? Math.min(128, positions - virtual);
  const fields = {
    textField: options.textField ?? "text",
    labelField: options.labelField ?? "label",
    ...(options.textPairField ? { pairField: options.textPairField } : {}),
    maxLength,
  };
  const trainRecords = options.trainRecords ?? readRecords(options.train);
  const train = classificationExamples(trainRecords, tokenizer, fields);
  if (train.labels.length < 2)
    bad(`the training data has ${train.labels.length} distinct label(s); classification needs at least 2`);
  const validation = options.eval
    ? classificationExamples(options.evalRecords ?? readRecords(options.eval), tokenizer, {
        ...fields,
        labels: train.labels,
      }).examples
    : undefined;

  const model = new BertForSequenceClassification(config, { numLabels: train.labels.length, seed });
  // The pretrained backbone: copy the loaded encoder's parameters into the task model's backbone.
  const source = new Map(options.fromScratch ? [] : loaded.model.namedParameters());
  noGrad(() => {
    for (const [name, p] of model.bert.namedParameters()) {
      const from = source.get(name);
      if (!from) continue; // e.g. a pooler the checkpoint lacks: it keeps its initial values
      if (from.size !== p.size)
        throw new TrainRunError(
          "TRAIN_UNSUPPORTED_MODEL",
          `backbone parameter ${name} has ${from.size} values in the checkpoint, ${p.size} in the task model`,
        );
      p.floats.set(from.floats.subarray(0, from.size));
    }
  });
  const baseParameters = model.parameterCount();
  const adapter = makeAdapter(options, seed);

  const stepLosses: number[] = [];
  const trainer = new Trainer({
    model,
    adapter,
    train: train.examples,
    ...(validation ? { validation } : {}),
    batchSize: options.batchSize ?? 16,
    epochs: options.epochs ?? (options.maxSteps !== undefined ? 1_000_000 : 3),
    ...(options.maxSteps !== undefined ? { maxSteps: options.maxSteps } : {}),
    learningRate: options.learningRate ?? 5e-4,
    seed,
    padTokenId: config.padTokenId ?? 0,
    maxLength,
    ...(options.evalEvery !== undefined ? { evalEvery: options.evalEvery } : {}),
    metrics: classificationMetrics(train.labels.length),
    outputDir: options.outputDir,
    resume: options.resume ?? false,
    onEvent: (event) => {
      if (event.type === "step") stepLosses.push(event.loss);
      options.onEvent?.(event);
    },
  });
  const result = trainer.train();

  const labelMaps = {
    id2label: Object.fromEntries(train.labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(train.labels.map((l, i) => [l, i])),
  };
  let savedTo: string;
  let trainableParameters: number;
  if (adapter) {
    savedTo = join(options.outputDir, "adapter");
    saveAdapter(adapter, savedTo);
    trainableParameters = adapter.trainableCount();
  } else {
    savedTo = join(options.outputDir, "model");
    mkdirSync(savedTo, { recursive: true });
    trainableParameters = model.parameterCount({ trainableOnly: true });
    const tensors = new Map(
      model
        .namedParameters()
        .map(([n, p]) => [n, { shape: [...p.shape], data: Float32Array.from(p.floats.subarray(0, p.size)) }]),
    );
    writeSafetensors(join(savedTo, "model.safetensors"), tensors, { format: "pt" });
    const hfConfig = JSON.parse(readFileSync(join(options.model, "config.json"), "utf8")) as Record<
      string,
      unknown
    >;
    writeFileAtomic(
      join(savedTo, "config.json"),
      `${JSON.stringify({ ...hfConfig, architectures: ["BertForSequenceClassification"], ...labelMaps }, null, 2)}\n`,
    );
  }
  writeFileAtomic(
    join(savedTo, "labels.json"),
    `${JSON.stringify({ labels: train.labels, ...labelMaps }, null, 2)}\n`,
  );

  const evaluations = result.evaluations;
  const runResult: TrainRunResult = {
    method: options.method,
    labels: train.labels,
    trainExamples: train.examples.length,
    evalExamples: validation?.length ?? 0,
    steps: result.steps,
    totalSteps: trainer.totalSteps,
    trainableParameters,
    baseParameters,
    percentOfBase: (100 * trainableParameters) / baseParameters,
    stepLosses,
    evaluations,
    finalMetrics: evaluations.at(-1)?.metrics ?? {},
    savedTo,
    savedKind: adapter ? "adapter" : "model",
  };
  // The run's record for `adaptlm report` (loss curve, options, seed) next to the saved adapter or model.
  const { onEvent: _onEvent, trainRecords: _train, evalRecords: _eval, ...recordedOptions } = options;
  writeFileAtomic(
    join(options.outputDir, TRAIN_RUN_FILE),
    `${JSON.stringify({ result: runResult, options: recordedOptions }, null, 2)}\n`,
  );
  return runResult;
}

/** `<outputDir>/train_run.json`: { result: TrainRunResult, options: TrainRunOptions without onEvent }. */
export const TRAIN_RUN_FILE = "train_run.json";
