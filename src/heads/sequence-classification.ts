// Sequence classification heads with transformers' names and semantics.
//
// BertForSequenceClassification: `bert` (BertModel with pooler) -> dropout -> `classifier` Linear(d, labels)
// on the pooler output. A sentence pair is one sequence `[CLS] a [SEP] b [SEP]` whose second segment has
// token type 1 (give tokenTypeIds). Loss: mean cross-entropy; with one label, mean squared error (HF's
// "regression" problem type).
//
// DecoderForSequenceClassification (GPT2ForSequenceClassification / LlamaForSequenceClassification): the
// decoder backbone (`transformer.*` / `model.*`), `score` Linear(d, labels, no bias) at every position, and
// the logits of the last non-padding token of each row.

import type { ModelConfig } from "../io/hf-config.js";
import { BertModel } from "../models/bert.js";
import type { GPT2LMHeadModel } from "../models/gpt2.js";
import type { LlamaForCausalLM } from "../models/llama.js";
import type { ModelInputs } from "../models/model-inputs.js";
import { Dropout, type Embedding, Linear } from "../nn/layers.js";
import type { Module } from "../nn/module.js";
import type { Tensor } from "../tensor/index.js";
import * as T from "../tensor/index.js";
import {
  type ForwardOptions,
  requireTarget,
  TaskModel,
  TaskModelError,
  type TaskOutputs,
  type TaskTargets,
  type TaskType,
} from "./task-model.js";

export interface HeadOptions {
  numLabels: number;
  /** Seed of the head's initialisation (normal(0, initializer_range) weights, zero bias, as HF). */
  seed?: number;
  /** Classifier dropout; defaults to config classifier_dropout, else hidden_dropout_prob, else 0.1. */
  dropout?: number;
}

export function initializerRange(config: ModelConfig): number {
  return (config.raw.initializer_range as number | undefined) ?? 0.02;
}

export function classifierDropout(config: ModelConfig, given?: number): number {
  if (given !== undefined) return given;
  const raw = config.raw;
  const value = raw.classifier_dropout ?? raw.hidden_dropout_prob ?? raw.resid_pdrop ?? 0.1;
  return typeof value === "number" ? value : 0.1;
}

/** Mean cross-entropy of logits [..., labels] against int32 labels (-100 ignored), or MSE for one label. */
export function classificationLoss(logits: Tensor, labels: Tensor, numLabels: number): Tensor {
  if (numLabels === 1) {
    const target =
      labels.dtype === "int32" ? T.cast(labels, logits.dtype === "float64" ? "float64" : "float32") : labels;
    return T.mean(T.square(T.sub(T.reshape(logits, [logits.size]), T.reshape(target, [target.size]))));
  }
  return T.crossEntropy(logits, labels);
}

function checkLabels(numLabels: number): void {
  if (!Number.isInteger(numLabels) || numLabels < 1)
    throw new TaskModelError("BAD_NUM_LABELS", `numLabels must be a positive integer, got ${numLabels}`);
}

/**
 * A head's output layer, Linear(hidden -> outputs) initialised as transformers does (normal with std
 * initializer_range), seeded at seed + 100 so the backbone's seeds stay untouched.
 */
export function headLinear(config: ModelConfig, outputs: number, seed: number, bias = true): Linear {
  checkLabels(outputs);
  return new Linear(
    config.hiddenSize,
    outputs,
    { rng: new T.Rng(seed + 100), std: initializerRange(config) },
    { bias },
  );
}

export class BertForSequenceClassification extends TaskModel {
  readonly taskType: TaskType = "SEQ_CLS";
  readonly headModules = ["classifier"] as const;
  readonly backbonePrefix: string;
  readonly bert: BertModel;
  readonly classifier: Linear;
  readonly numLabels: number;
  private readonly dropout: Dropout;

  constructor(
    readonly config: ModelConfig,
    options: HeadOptions,
  ) {
    super();
    const seed = options.seed ?? 0;
    this.numLabels = options.numLabels;
    this.backbonePrefix = config.baseModelPrefix;
    this.bert = this.registerModule(config.baseModelPrefix, new BertModel(config, { seed, pooler: true }));
    this.dropout = new Dropout(classifierDropout(config, options.dropout), new T.Rng(seed + 101));
    this.classifier = this.registerModule("classifier", headLinear(config, options.numLabels, seed));
  }

  wordEmbeddings(): Embedding {
    return this.bert.embeddings.getModule("word_embeddings") as Embedding;
  }

  /** logits [batch, labels] */
  forward(inputs: ModelInputs): Tensor {
    const pooled = this.bert.forward(inputs).poolerOutput as Tensor; // [batch, hidden]
    this.dropout.training = this.training;
    return this.forwardChild("classifier", this.dropout.forward(pooled));
  }

  forwardOutputs(inputs: ModelInputs): TaskOutputs {
    return { logits: this.forward(inputs) };
  }

  loss(outputs: TaskOutputs, targets: TaskTargets): Tensor {
    return classificationLoss(
      outputs.logits,
      requireTarget(targets, "labels", "sequence classification"),
      this.numLabels,
    );
  }
}

/** Index of the last position of each row that is not padding (by pad id, else by attention mask). */
export function lastTokenIndices(inputs: ModelInputs, padTokenId: number | null): number[] {
  const source = inputs.inputIds ?? inputs.inputsEmbeds;
  if (!source) throw new T.ShapeError("lastTokenIndices", "needs inputIds or inputsEmbeds");
  const [batch, seq] = source.shape;
  const out: number[] = [];
  for (let b = 0; b < batch; b++) {
    let last = seq - 1;
    if (inputs.inputIds && padTokenId !== null) {
      const ids = inputs.inputIds.ints;
      last = -1;
      for (let t = 0; t < seq; t++) if (ids[b * seq + t] !== padTokenId) last = t;
      if (last < 0) last = seq - 1;
    } else if (inputs.attentionMask) {
      const mask = inputs.attentionMask.ints;
      const width = inputs.attentionMask.shape[1];
      const offset = width - seq;
      last = -1;
      for (let t = 0; t < seq; t++) if (mask[b * width + offset + t] !== 0) last = t;
      if (last < 0) last = seq - 1;
    }
    out.push(last);
  }
  return out;
}

/** Rows of x [batch, seq, d] at one position per row -> [batch, d] (differentiable gather). */
export function gatherPositions(x: Tensor, positions: readonly number[]): Tensor {
  const [batch, seq, d] = x.shape;
  const flat = T.reshape(x, [batch * seq, d]);
  const ids = T.tensor(
    positions.map((p, b) => b * seq + p),
    [batch],
    "int32",
  );
  return T.embedding(flat, ids);
}

/** GPT2ForSequenceClassification / LlamaForSequenceClassification on a loaded causal LM's backbone. */
export class DecoderForSequenceClassification extends TaskModel {
  readonly taskType: TaskType = "SEQ_CLS";
  readonly headModules = ["score"] as const;
  readonly backbonePrefix: string;
  readonly config: ModelConfig;
  readonly score: Linear;

  constructor(
    private readonly lm: GPT2LMHeadModel | LlamaForCausalLM,
    readonly numLabels: number,
    options: { seed?: number } = {},
  ) {
    super();
    this.config = lm.config;
    this.backbonePrefix = lm.config.baseModelPrefix;
    // Only the backbone is registered (the LM head is not part of this model, as in transformers).
    const backbone = lm.getModule(this.backbonePrefix) as Module;
    this.setModule(this.backbonePrefix, backbone);
    this.score = this.registerModule("score", headLinear(lm.config, numLabels, options.seed ?? 0, false));
  }

  wordEmbeddings(): Embedding {
    const backbone = this.getModule(this.backbonePrefix) as Module;
    return (backbone.getModule("wte") ?? backbone.getModule("embed_tokens")) as Embedding;
  }

  /** With prompt tuning the inputs are already extended (embeddings and mask), so indices include them. */
  forwardOutputs(inputs: ModelInputs, _options: ForwardOptions = {}): TaskOutputs {
    const hidden = this.lm.hiddenStates(inputs); // [batch, seq, hidden]
    const pooled = gatherPositions(hidden, lastTokenIndices(inputs, this.config.padTokenId)); // [batch, hidden]
    return { logits: this.forwardChild("score", pooled) };
  }

  loss(outputs: TaskOutputs, targets: TaskTargets): Tensor {
    return classificationLoss(
      outputs.logits,
      requireTarget(targets, "labels", "sequence classification"),
      this.numLabels,
    );
  }
}
