// BertForTokenClassification (transformers): `bert` (BertModel without pooler) -> dropout -> `classifier`
// Linear(d, labels) at every position. Loss: mean cross-entropy over the positions whose label is not -100
// (special tokens, padding and non-first sub-words carry -100).

import type { ModelConfig } from "../io/hf-config.js";
import { BertModel } from "../models/bert.js";
import type { ModelInputs } from "../models/model-inputs.js";
import { Dropout, type Embedding, type Linear } from "../nn/layers.js";
import type { Tensor } from "../tensor/index.js";
import * as T from "../tensor/index.js";
import { classifierDropout, type HeadOptions, headLinear } from "./sequence-classification.js";
import {
  type ForwardOptions,
  requireTarget,
  TaskModel,
  type TaskOutputs,
  type TaskTargets,
  type TaskType,
} from "./task-model.js";

export class BertForTokenClassification extends TaskModel {
  readonly taskType: TaskType = "TOKEN_CLS";
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
    this.bert = this.registerModule(config.baseModelPrefix, new BertModel(config, { seed, pooler: false }));
    this.dropout = new Dropout(classifierDropout(config, options.dropout), new T.Rng(seed + 101));
    this.classifier = this.registerModule("classifier", headLinear(config, options.numLabels, seed));
  }

  wordEmbeddings(): Embedding {
    return this.bert.embeddings.getModule("word_embeddings") as Embedding;
  }

  /** logits [batch, seq, labels]; with virtual tokens in front, only the real positions are returned. */
  forward(inputs: ModelInputs, options: ForwardOptions = {}): Tensor {
    let hidden = this.bert.forward(inputs).lastHiddenState; // [batch, seq, hidden]
    const p = options.virtualTokens ?? 0;
    if (p > 0) hidden = T.slice(hidden, 1, p);
    this.dropout.training = this.training;
    return this.forwardChild("classifier", this.dropout.forward(hidden));
  }

  forwardOutputs(inputs: ModelInputs, options: ForwardOptions = {}): TaskOutputs {
    return { logits: this.forward(inputs, options) };
  }

  loss(outputs: TaskOutputs, targets: TaskTargets): Tensor {
    return T.crossEntropy(outputs.logits, requireTarget(targets, "labels", "token classification"));
  }
}
