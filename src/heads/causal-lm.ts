// The causal language-modelling objective: logits at positions 0..n-2 predict the labels at 1..n-1; mean
// cross-entropy over the labels that are not -100 (transformers' *ForCausalLM loss).

import type { Tensor } from "../tensor/index.js";
import * as T from "../tensor/index.js";

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
