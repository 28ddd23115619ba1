// Examples -> padded batches (dynamic padding to the longest row of the batch), with the targets each task
// needs: SEQ_CLS `labels` [batch]; TOKEN_CLS `labels` [batch, seq] (-100 on padding); CAUSAL_LM `labels`
// [batch, seq] (the input ids with -100 on padding unless given); QUESTION_ANS start/end positions.

import { AdaptlmError } from "../errors.js";
import type { TaskTargets, TaskType } from "../heads/task-model.js";
import type { ModelInputs } from "../models/model-inputs.js";
import * as T from "../tensor/index.js";

export interface TrainExample {
  inputIds: number[];
  tokenTypeIds?: number[];
  /** Sequence classification label. */
  label?: number;
  /** Per-token labels (token classification, causal LM), -100 where ignored. */
  labels?: number[];
  startPosition?: number;
  endPosition?: number;
}

export class CollateError extends AdaptlmError {}

export interface Batch {
  inputs: ModelInputs;
  targets: TaskTargets;
  size: number;
}

/** Pads examples to the longest of them with padTokenId; attention mask 0 on padding. */
export function collate(
  examples: readonly TrainExample[],
  taskType: TaskType,
  padTokenId: number,
  maxLength?: number,
): Batch {
  if (examples.length === 0) throw new CollateError("EMPTY_BATCH", "cannot build a batch from no examples");
  const cut = (row: number[]) =>
    maxLength !== undefined && row.length > maxLength ? row.slice(0, maxLength) : row;
  const rows = examples.map((e) => cut(e.inputIds));
  const seq = Math.max(...rows.map((r) => r.length));
  const batch = examples.length;
  const ids = new Int32Array(batch * seq).fill(padTokenId);
  const mask = new Int32Array(batch * seq);
  const types = new Int32Array(batch * seq);
  const anyTypes = examples.some((e) => e.tokenTypeIds);
  rows.forEach((row, b) => {
    row.forEach((id, t) => {
      ids[b * seq + t] = id;
      mask[b * seq + t] = 1;
    });
    const tt = examples[b].tokenTypeIds;
    if (tt) types.set(cut(tt), b * seq);
  });
  const inputs: ModelInputs = {
    inputIds: T.tensor(ids, [batch, seq], "int32"),
    attentionMask: T.tensor(mask, [batch, seq], "int32"),
  };
  if (anyTypes) inputs.tokenTypeIds = T.tensor(types, [batch, seq], "int32");
  const targets: TaskTargets = {};
  if (taskType === "SEQ_CLS") {
    if (examples.every((e) => e.label !== undefined))
      targets.labels = T.tensor(
        examples.map((e) => e.label as number),
        [batch],
        "int32",
      );
  } else if (taskType === "TOKEN_CLS" || taskType === "CAUSAL_LM") {
    const labels = new Int32Array(batch * seq).fill(T.IGNORE_INDEX);
    let have = true;
    examples.forEach((e, b) => {
      const source = e.labels ?? (taskType === "CAUSAL_LM" ? rows[b] : undefined);
      if (!source) have = false;
      else labels.set(cut(source), b * seq);
    });
    if (have) targets.labels = T.tensor(labels, [batch, seq], "int32");
  } else if (taskType === "QUESTION_ANS") {
    if (examples.every((e) => e.startPosition !== undefined && e.endPosition !== undefined)) {
      targets.start_positions = T.tensor(
        examples.map((e) => e.startPosition as number),
        [batch],
        "int32",
      );
      targets.end_positions = T.tensor(
        examples.map((e) => e.endPosition as number),
        [batch],
        "int32",
      );
    }
  }
  return { inputs, targets, size: batch };
}

/** A seeded permutation of 0..n-1 (Fisher-Yates with the engine's Rng). */
export function shuffledOrder(n: number, seed: number): number[] {
  const rng = new T.Rng(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}
