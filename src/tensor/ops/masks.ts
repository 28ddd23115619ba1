// Attention masks as additive biases, the way Hugging Face builds them: 0 where a key is visible, the
// float32 minimum where it is not (added to the scaled scores before the softmax).

import { currentBackend } from "../../backend/registry.js";
import { DTypeError, ShapeError, shapeString } from "../errors.js";
import { type Tensor, zeros } from "../tensor.js";

export const MASKED_BIAS = -3.4028234663852886e38; // torch.finfo(torch.float32).min

/** attentionMask int32 [batch, seq] of 1 (token) / 0 (padding) -> float key bias [batch, seq]. */
export function paddingBias(attentionMask: Tensor, dtype: "float32" | "float64" = "float32"): Tensor {
  if (attentionMask.dtype !== "int32")
    throw new DTypeError("paddingBias", `attention mask must be int32, got ${attentionMask.dtype}`);
  if (attentionMask.rank !== 2)
    throw new ShapeError(
      "paddingBias",
      `attention mask must be [batch, seq], got ${shapeString(attentionMask.shape)}`,
    );
  const bias = zeros(attentionMask.shape, dtype, attentionMask.backend);
  const m = attentionMask.ints;
  const b = bias.floats;
  for (let i = 0; i < attentionMask.size; i++) b[i] = m[i] === 0 ? MASKED_BIAS : 0;
  return bias;
}

/**
 * Causal bias [tq, tk]: query i (at absolute position i + offset) sees key j when j <= i + offset. With a
 * KV cache or a prefix of length p, offset = tk - tq.
 */
export function causalBias(
  tq: number,
  tk: number,
  offset = tk - tq,
  dtype: "float32" | "float64" = "float32",
  backend = currentBackend(),
): Tensor {
  const bias = zeros([tq, tk], dtype, backend);
  const b = bias.floats;
  for (let i = 0; i < tq; i++) for (let j = 0; j < tk; j++) if (j > i + offset) b[i * tk + j] = -Infinity;
  return bias;
}
