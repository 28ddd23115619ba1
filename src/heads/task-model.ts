// What every task model (a backbone plus a task head, Hugging Face's *For<Task> classes) offers to the
// parameter-efficient methods and the trainer: its configuration, which task it solves (PEFT's task_type),
// which modules form the head (PEFT's modules_to_save), the word embedding table (prompt tuning), a forward
// pass returning named outputs and the task loss.
//
// `virtualTokens` is the number of positions a prompt-tuning method prepended to the sequence: heads whose
// outputs are per position drop them (token classification, QA) or keep them and pad the labels (causal LM,
// as PEFT does).

import { AdaptlmError } from "../errors.js";
import type { ModelConfig } from "../io/hf-config.js";
import type { ModelInputs } from "../models/model-inputs.js";
import type { Embedding } from "../nn/layers.js";
import { Module } from "../nn/module.js";
import type { Tensor } from "../tensor/index.js";

/** PEFT's task_type values for the tasks adaptlm has heads for. */
export type TaskType = "SEQ_CLS" | "TOKEN_CLS" | "QUESTION_ANS" | "CAUSAL_LM";

/** Named outputs as transformers names them: logits, or start_logits and end_logits. */
export type TaskOutputs = Record<string, Tensor>;

/** Targets by name: labels, or start_positions and end_positions (int32). */
export type TaskTargets = Record<string, Tensor>;

export interface ForwardOptions {
  /** Positions a prompt-tuning method put in front of the real tokens (0 by default). */
  virtualTokens?: number;
}

export abstract class TaskModel extends Module {
  abstract readonly config: ModelConfig;
  abstract readonly taskType: TaskType;
  /** Names of the head's modules (trained and saved with every adapter, PEFT's modules_to_save). */
  abstract readonly headModules: readonly string[];
  /** The backbone's prefix in parameter names ("bert", "transformer", "model"). */
  abstract readonly backbonePrefix: string;

  /** The token embedding table (prompt tuning embeds the real tokens with it). */
  abstract wordEmbeddings(): Embedding;

  abstract forwardOutputs(inputs: ModelInputs, options?: ForwardOptions): TaskOutputs;

  abstract loss(outputs: TaskOutputs, targets: TaskTargets, options?: ForwardOptions): Tensor;

  /** Canonical names of the head's parameters (classifier.weight, ...). */
  headParameterNames(): string[] {
    return this.namedParameters()
      .map(([name]) => name)
      .filter((name) => this.headModules.some((m) => name.startsWith(`${m}.`)));
  }
}

export class TaskModelError extends AdaptlmError {}

/** The target tensor named `name`, or a typed error naming what the task expects. */
export function requireTarget(targets: TaskTargets, name: string, task: string): Tensor {
  const t = targets[name];
  if (!t) {
    throw new TaskModelError(
      "TARGET_MISSING",
      `${task} needs the target "${name}" (int32); got ${Object.keys(targets).join(", ") || "none"}`,
    );
  }
  return t;
}
