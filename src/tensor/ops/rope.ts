// Rotary position embeddings, Hugging Face's rotate-half convention (Llama, Mistral, Qwen2).

import { needsGrad, record } from "../autograd.js";
import { DTypeError, ShapeError, shapeString } from "../errors.js";
import { empty, type Tensor } from "../tensor.js";
import { requireFloat } from "./elementwise.js";

/** inv_freq[i] = 1 / theta^(2i / headDim), i < headDim / 2, computed in float32 as transformers does. */
export function ropeInverseFrequencies(headDim: number, theta: number): Float64Array {
  const half = headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = Math.fround(1 / theta ** ((2 * i) / headDim));
  return inv;
}

/** x [batch, heads, seq, headDim] rotated by positions [batch, seq] (int32). */
export function rope(x: Tensor, positions: Tensor, invFreq: Float64Array): Tensor {
  requireFloat("rope", x);
  if (positions.dtype !== "int32")
    throw new DTypeError("rope", `positions must be int32, got ${positions.dtype}`);
  if (x.rank !== 4)
    throw new ShapeError("rope", `expects [batch, heads, seq, headDim], got ${shapeString(x.shape)}`);
  const [batch, heads, seq, headDim] = x.shape;
  if (headDim % 2 !== 0 || invFreq.length !== headDim / 2) {
    throw new ShapeError(
      "rope",
      `headDim ${headDim} must be even and match ${invFreq.length * 2} rotary dimensions`,
    );
  }
  if (positions.size !== batch * seq) {
    throw new ShapeError(
      "rope",
      `positions ${shapeString(positions.shape)} must be [batch, seq] = [${batch}, ${seq}]`,
    );
  }
  const out = empty(x.shape, x.dtype, x.backend);
  x.backend.rope(x.floats, out.floats, positions.ints, invFreq, batch, heads, seq, headDim, false);
  if (needsGrad(x)) {
    record(out, "rope", [x], (g) => {
      const dx = empty(x.shape, x.dtype, x.backend);
      x.backend.rope(g.floats, dx.floats, positions.ints, invFreq, batch, heads, seq, headDim, true);
      return [dx];
    });
  }
  return out;
}
