// Using what `adaptlm train` saved: a sequence classifier is rebuilt from the base model folder plus either
// the PEFT adapter folder (<out>/adapter: adapter_config.json + adapter_model.safetensors with the head as
// modules_to_save) or the full fine-tuning folder (<out>/model: model.safetensors with every task-model
// parameter, config.json); labels come from the labels.json written next to either. Then predictions
// (label + probabilities per record) and an evaluation report (accuracy, macro-F1, MCC, per-class counts,
// confusion matrix). It never prints.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { AdaptlmError } from "../errors.js";
import { BertForSequenceClassification } from "../heads/sequence-classification.js";
import type { ModelConfig } from "../io/hf-config.js";
import { readSafetensors } from "../io/safetensors.js";
import { type LoadedModel, loadLocalModel, requireTokenizer } from "../models/load-model.js";
import { ADAPTER_CONFIG_FILE, loadAdapter, readAdapterTensors } from "../peft/adapter-store.js";
import { type Adapter, forwardWithAdapter } from "../peft/method.js";
import { noGrad } from "../tensor/grad-mode.js";
import * as T from "../tensor/index.js";
import type { Tokenizer } from "../tokenizers/tokenizer.js";
import { collate } from "./collate.js";
import { type ClassificationFields, classificationExamples, type DataRecord } from "./dataset.js";
import { classificationMetrics } from "./task-metrics.js";
import type { EvalPrediction } from "./trainer.js";

/** Codes: PREDICT_FILE_MISSING, PREDICT_UNSUPPORTED_MODEL, PREDICT_BAD_FOLDER, PREDICT_NO_LABELS, PREDICT_BAD_OPTION. */
export class PredictError extends AdaptlmError {}

export interface ClassifierSource {
  /** The base model folder (config.json, safetensors, tokenizer files), as given to `adaptlm train`. */
  model: string;
  /** What `adaptlm train` saved: <out>/adapter (PEFT folder) or <out>/model (full fine-tuning). */
  adapter?: string;
  /**
   * Seed the task model is built with. Only matters when the base checkpoint has no pooler: the pooler then
   * keeps its seeded initial values, frozen during adapter training, so it must be the training seed
   * (`adaptlm train` defaults to 42).
   */
  seed?: number;
  /** Truncate inputs to this many tokens (default as `adaptlm train`: min(128, the model's positions)). */
  maxLength?: number;
}

export interface Classifier {
  model: BertForSequenceClassification;
  adapter: Adapter | null;
  tokenizer: Tokenizer;
  config: ModelConfig;
  labels: string[];
  maxLength: number;
  /** What was loaded on top of the base model. */
  kind: "base" | "adapter" | "model";
  /** False when the pooler came from the seed (see ClassifierSource.seed). */
  poolerFromCheckpoint: boolean;
}

interface LabelsFile {
  labels?: unknown;
  id2label?: Record<string, unknown>;
}

/** Label names in id order from labels.json (written by `adaptlm train`) or a config's id2label; else null. */
function labelsIn(dir: string): string[] | null {
  for (const file of ["labels.json", "config.json"]) {
    const path = join(dir, file);
    if (!existsSync(path)) continue;
    const json = JSON.parse(readFileSync(path, "utf8")) as LabelsFile;
    if (Array.isArray(json.labels) && json.labels.every((l) => typeof l === "string"))
      return json.labels as string[];
    if (json.id2label && typeof json.id2label === "object") {
      const entries = Object.entries(json.id2label);
      return entries.map((_, i) => String(json.id2label?.[String(i)] ?? i));
    }
  }
  return null;
}

function numLabelsOf(weights: ReadonlyMap<string, { shape: number[] }>, where: string): number {
  for (const [name, t] of weights) {
    if (/(^|\.)classifier\.weight$/.test(name)) return t.shape[0];
  }
  throw new PredictError(
    "PREDICT_NO_LABELS",
    `${where} holds no classifier.weight: it is not a sequence-classification result of adaptlm train`,
  );
}

/**
 * A BERT-style sequence classifier (as `adaptlm train` builds it) with the pretrained backbone's values
 * copied in, then any task-model weights given (a full fine-tuning result) on top; what is in neither (the
 * head, a pooler the checkpoint lacks) keeps its seeded initial values.
 */
export function buildSequenceClassifier(
  loaded: LoadedModel,
  numLabels: number,
  seed: number,
  taskWeights?: ReadonlyMap<string, { data: Float32Array }>,
): BertForSequenceClassification {
  if (loaded.config.family !== "bert") {
    throw new PredictError(
      "PREDICT_UNSUPPORTED_MODEL",
      `sequence classifiers are built on BERT-style encoders (bert, roberta, distilbert); ${loaded.source.path} is a ${loaded.config.modelType} model`,
    );
  }
  const backbone = new Map(loaded.model.namedParameters());
  const model = new BertForSequenceClassification(loaded.config, { numLabels, seed });
  const prefix = `${model.backbonePrefix}.`;
  noGrad(() => {
    for (const [name, p] of model.namedParameters()) {
      let values: ArrayLike<number> | undefined = taskWeights?.get(name)?.data;
      const base = name.startsWith(prefix) ? backbone.get(name.slice(prefix.length)) : undefined;
      // Pooled storage can be longer than the tensor: only its first size values are the tensor's.
      if (!values && base) values = base.floats.subarray(0, base.size);
      if (!values) continue;
      if (values.length !== p.size)
        throw new PredictError(
          "PREDICT_UNSUPPORTED_MODEL",
          `parameter ${name} has ${values.length} values in the checkpoint, ${p.size} in the task model: the adapter or model was trained on another base`,
        );
      p.floats.set(values);
    }
  });
  return model;
}

/**
 * The classifier `adaptlm train` produced: the base folder's config, tokenizer and backbone, then the
 * adapter folder attached, or the full fine-tuning folder's weights copied in.
 */
export function loadClassifier(source: ClassifierSource): Classifier {
  for (const [what, path] of [
    ["model folder", source.model],
    ["adapter folder", source.adapter],
  ] as const) {
    if (path !== undefined && !existsSync(path))
      throw new PredictError("PREDICT_FILE_MISSING", `${what} ${path} does not exist`);
  }
  const loaded = loadLocalModel(source.model, { kind: "encoder" });
  const { config } = loaded;
  if (config.family !== "bert") {
    throw new PredictError(
      "PREDICT_UNSUPPORTED_MODEL",
      `eval and predict support BERT-style encoders (bert, roberta, distilbert); ${source.model} is a ${config.modelType} model`,
    );
  }
  const tokenizer = requireTokenizer(loaded);
  const poolerFromCheckpoint = loaded.model.namedParameters().some(([n]) => n.startsWith("pooler."));

  let kind: Classifier["kind"] = "base";
  let adapter: Adapter | null = null;
  let fullWeights: Map<string, { shape: number[]; data: Float32Array }> | null = null;
  let numLabels: number;
  let labels: string[] | null;
  if (source.adapter !== undefined) {
    const dir = source.adapter;
    if (existsSync(join(dir, ADAPTER_CONFIG_FILE))) {
      kind = "adapter";
      numLabels = numLabelsOf(
        new Map(
          [...readAdapterTensors(dir)].map(([n, t]) => [n.replace(/\.modules_to_save(\.default)?/, ""), t]),
        ),
        dir,
      );
      adapter = loadAdapter(dir);
    } else if (existsSync(join(dir, "model.safetensors"))) {
      kind = "model";
      fullWeights = new Map();
      for (const [name, t] of readSafetensors(join(dir, "model.safetensors")).tensors) {
        if (t.data instanceof Float32Array) fullWeights.set(name, { shape: t.shape, data: t.data });
      }
      numLabels = numLabelsOf(fullWeights, join(dir, "model.safetensors"));
    } else {
      throw new PredictError(
        "PREDICT_BAD_FOLDER",
        `${dir} is neither a PEFT adapter folder (adapter_config.json) nor a full fine-tuning folder (model.safetensors): pass <out>/adapter or <out>/model of adaptlm train`,
      );
    }
    labels = labelsIn(dir);
  } else {
    // A checkpoint that is already a sequence classifier (a Hub *ForSequenceClassification folder).
    labels = config.labels;
    if (!labels)
      throw new PredictError(
        "PREDICT_NO_LABELS",
        `${source.model} has no classification head labels (id2label): pass --adapter <out>/adapter or <out>/model from adaptlm train`,
      );
    kind = "model";
    fullWeights = new Map();
    const file = join(source.model, "model.safetensors");
    if (!existsSync(file))
      throw new PredictError(
        "PREDICT_BAD_FOLDER",
        `${source.model} has no model.safetensors to read the head from`,
      );
    for (const [name, t] of readSafetensors(file).tensors)
      if (t.data instanceof Float32Array) fullWeights.set(name, { shape: t.shape, data: t.data });
    numLabels = numLabelsOf(fullWeights, file);
  }
  labels ??= Array.from({ length: numLabels }, (_, i) => String(i));
  if (labels.length !== numLabels)
    throw new PredictError(
      "PREDICT_NO_LABELS",
      `the head has ${numLabels} outputs but the labels are ${JSON.stringify(labels)}`,
    );

  const model = buildSequenceClassifier(loaded, numLabels, source.seed ?? 42, fullWeights ?? undefined);
  if (fullWeights && kind === "model" && source.adapter !== undefined) {
    const missing = model
      .namedParameters()
      .map(([n]) => n)
      .filter((n) => !fullWeights?.has(n));
    if (missing.length > 0)
      throw new PredictError(
        "PREDICT_BAD_FOLDER",
        `${source.adapter}/model.safetensors lacks ${missing.length} task-model parameters (first: ${missing[0]})`,
      );
  }
  adapter?.attach(model);
  model.eval();
  // Prefix and prompt tuning take num_virtual_tokens positions of the model's table (peft/method.ts
  // checkPositions): the default length leaves room for them, as compare-methods trains them.
  const virtual = Number(adapter?.sourceConfig?.num_virtual_tokens ?? 0) || 0;
  const positions = config.maxPositions - config.positionIdOffset;
  const maxLength = source.maxLength ?? Math.min(128, positions - virtual);
  return {
    model,
    adapter,
    tokenizer,
    config,
    labels,
    maxLength,
    kind,
    poolerFromCheckpoint:
      poolerFromCheckpoint || (fullWeights?.has(`${model.backbonePrefix}.pooler.dense.weight`) ?? false),
  };
}

export interface ClassifierPrediction {
  label: string;
  labelId: number;
  /** Softmax over the labels, by label name. */
  probabilities: Record<string, number>;
}

export type TextFields = Pick<ClassificationFields, "textField" | "pairField" | "labelField">;

/** Logits [records, labels] of the classifier for the records' text (and pair) fields, in order. */
function classifierLogits(
  classifier: Classifier,
  records: readonly DataRecord[],
  fields: TextFields,
  batchSize: number,
): { logits: Float32Array[]; gold: (number | undefined)[] } {
  // Labels are only read when present (predict takes unlabelled input); a label outside the set is an error.
  const { examples } = classificationExamples(records, classifier.tokenizer, {
    ...fields,
    labels: classifier.labels,
    maxLength: classifier.maxLength,
    labelField: fields.labelField ?? "label",
  });
  const logits: Float32Array[] = [];
  const width = classifier.labels.length;
  const padTokenId = classifier.config.padTokenId ?? 0;
  for (let start = 0; start < examples.length; start += batchSize) {
    const batchExamples = examples.slice(start, start + batchSize).map((e) => ({ ...e, label: undefined }));
    T.scope(() =>
      noGrad(() => {
        const batch = collate(batchExamples, "SEQ_CLS", padTokenId, classifier.maxLength);
        const { outputs } = forwardWithAdapter(classifier.model, classifier.adapter, batch.inputs);
        const values = outputs.logits.floats;
        for (let b = 0; b < batchExamples.length; b++)
          logits.push(Float32Array.from(values.subarray(b * width, (b + 1) * width)));
      }),
    );
  }
  return { logits, gold: examples.map((e) => e.label) };
}

function toPrediction(logits: Float32Array, labels: readonly string[]): ClassifierPrediction {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  const max = logits[best];
  const exps = Array.from(logits, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return {
    label: labels[best],
    labelId: best,
    probabilities: Object.fromEntries(labels.map((l, i) => [l, exps[i] / sum])),
  };
}

/** One prediction per record (its text field, and pair field when given), in order. */
export function predictRecords(
  classifier: Classifier,
  records: readonly DataRecord[],
  options: TextFields & { batchSize?: number } = {},
): ClassifierPrediction[] {
  const { batchSize, ...fields } = options;
  // Records without a label field are fine here: point labelField at a name no record has.
  const { logits } = classifierLogits(
    classifier,
    records,
    { ...fields, labelField: fields.labelField ?? "\u0000no label" },
    checkBatchSize(batchSize),
  );
  return logits.map((l) => toPrediction(l, classifier.labels));
}

function checkBatchSize(batchSize: number | undefined): number {
  const size = batchSize ?? 32;
  if (!Number.isInteger(size) || size < 1)
    throw new PredictError("PREDICT_BAD_OPTION", `batchSize must be a positive integer, got ${batchSize}`);
  return size;
}

export interface ClassCounts {
  label: string;
  /** Gold examples of this class. */
  support: number;
  /** Examples predicted as this class. */
  predicted: number;
  correct: number;
  precision: number;
  recall: number;
  f1: number;
}

export interface ClassificationReport {
  examples: number;
  labels: string[];
  accuracy: number;
  macroF1: number;
  mcc: number;
  perClass: ClassCounts[];
  /** confusion[gold][predicted] counts, in label order. */
  confusion: number[][];
}

/** Predictions and the report for labelled records (every record must carry a label of the label set). */
export function evaluateClassifier(
  classifier: Classifier,
  records: readonly DataRecord[],
  options: TextFields & { batchSize?: number } = {},
): { report: ClassificationReport; predictions: ClassifierPrediction[] } {
  const { batchSize, ...fields } = options;
  const labelField = fields.labelField ?? "label";
  const { logits, gold } = classifierLogits(classifier, records, fields, checkBatchSize(batchSize));
  const unlabelled = gold.indexOf(undefined);
  if (unlabelled >= 0)
    throw new PredictError(
      "PREDICT_NO_LABELS",
      `record ${unlabelled} has no "${labelField}": evaluation needs a label on every record (use predict for unlabelled data)`,
    );
  const labels = classifier.labels;
  const predictions = logits.map((l) => toPrediction(l, labels));
  const confusion = labels.map(() => new Array<number>(labels.length).fill(0));
  predictions.forEach((p, i) => {
    confusion[gold[i] as number][p.labelId]++;
  });
  const evalPredictions: EvalPrediction[] = logits.map((l, i) => ({
    example: { inputIds: [], label: gold[i] },
    outputs: { logits: l },
  }));
  const metrics = classificationMetrics(labels.length)(evalPredictions);
  const perClass = labels.map((label, k) => {
    const support = confusion[k].reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + row[k], 0);
    const correct = confusion[k][k];
    const precision = predicted ? correct / predicted : 0;
    const recall = support ? correct / support : 0;
    return {
      label,
      support,
      predicted,
      correct,
      precision,
      recall,
      f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0,
    };
  });
  return {
    report: {
      examples: records.length,
      labels: [...labels],
      accuracy: metrics.accuracy ?? 0,
      macroF1: metrics.macro_f1 ?? 0,
      mcc: metrics.mcc ?? 0,
      perClass,
      confusion,
    },
    predictions,
  };
}
