// The causal language-modelling objective: logits at positions 0..n-2 predict the labels at 1..n-1; mean
// cross-entropy over the labels that are not -100 (transformers' *ForCausalLM loss).

import type { ModelConfig } from "../io/hf-config.js";
import type { GPT2LMHeadModel } from "../models/gpt2.js";
import type { LlamaForCausalLM } from "../models/llama.js";
import type { ModelInputs } from "../models/model-inputs.js";
import type { Embedding } from "../nn/layers.js";
import type { Module } from "../nn/module.js";
import type { Tensor } from "../tensor/index.js";
import * as T from "../tensor/index.js";
import {
  type ForwardOptions,
  requireTarget,
  TaskModel,
  type TaskOutputs,
  type TaskTargets,
  type TaskType,
} from "./task-model.js";

/** logits [batch, seq, vocab], labels int32 [batch, seq] -> scalar loss. */
export function causalLmLoss(logits: Tensor, labels: Tensor): Tensor {
  const [batch, seq, vocab] = logits.shape;
  if (labels.rank !== 2 || labels.shape[0] !== batch || labels.shape[1] !== seq) {
    throw new T.ShapeError(
      "causalLmLoss",
      `labels ${T.shapeString(labels.shape)} must be [batch, seq] = [${batch}, ${seq}]`,
    );
  }
  const predicting = T.reshape(T.slice(logits, 1, 0, seq - 1), [batch * (seq - 1), vocab]);
  const shifted = new Int32Array(batch * (seq - 1));
  const l = labels.ints;
  for (let b = 0; b < batch; b++)
    for (let t = 1; t < seq; t++) shifted[b * (seq - 1) + t - 1] = l[b * seq + t];
  return T.crossEntropy(predicting, T.tensor(shifted, [batch * (seq - 1)], "int32"));
}

/** Labels [batch, seq] with `count` values of -100 in front (prompt tuning's virtual tokens). */
export function padLabelsForVirtualTokens(labels: Tensor, count: number): Tensor {
  if (count === 0) return labels;
  const [batch, seq] = labels.shape;
  const out = new Int32Array(batch * (seq + count)).fill(T.IGNORE_INDEX);
  const l = labels.ints;
  for (let b = 0; b < batch; b++) out.set(l.subarray(b * seq, (b + 1) * seq), b * (seq + count) + count);
  return T.tensor(out, [batch, seq + count], "int32");
}

/**
 * A causal LM (GPT2LMHeadModel, LlamaForCausalLM) as a task model: the same modules under the same names
 * (`transformer.*` / `model.*`, `lm_head`), outputs `logits`, causal-LM loss on `labels`. With virtual
 * tokens (prompt tuning) the logits keep those positions and the labels get -100 in front, as PEFT does.
 */
export class CausalLMTaskModel extends TaskModel {
  readonly taskType: TaskType = "CAUSAL_LM";
  readonly headModules: readonly string[] = [];
  readonly backbonePrefix: string;
  readonly config: ModelConfig;

  constructor(readonly lm: GPT2LMHeadModel | LlamaForCausalLM) {
    super();
    this.config = lm.config;
    this.backbonePrefix = lm.config.baseModelPrefix;
    for (const [name, child] of lm.namedModules())
      if (name && !name.includes(".")) this.setModule(name, child);
  }

  wordEmbeddings(): Embedding {
    const backbone = this.getModule(this.backbonePrefix) as Module;
    return (backbone.getModule("wte") ?? backbone.getModule("embed_tokens")) as Embedding;
  }

  /** logits [batch, seq, vocab] */
  forwardOutputs(inputs: ModelInputs): TaskOutputs {
    return { logits: this.lm.forward(inputs) };
  }

  loss(outputs: TaskOutputs, targets: TaskTargets, options: ForwardOptions = {}): Tensor {
    const labels = requireTarget(targets, "labels", "causal language modelling");
    return causalLmLoss(outputs.logits, padLabelsForVirtualTokens(labels, options.virtualTokens ?? 0));
  }
}
