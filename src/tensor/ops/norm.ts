// Layer norm and RMS norm over the last axis, fused forward and backward kernels.

import { needsGrad, record } from "../autograd.js";
import { ShapeError, shapeString } from "../errors.js";
import { empty, type Tensor } from "../tensor.js";
import { requireFloat } from "./elementwise.js";
import { onLiveRows } from "./sparse-rows.js";

function checkGain(op: string, x: Tensor, gain: Tensor | null, what: string): void {
  const cols = x.shape[x.rank - 1];
  if (gain && (gain.rank !== 1 || gain.shape[0] !== cols)) {
    throw new ShapeError(
      op,
      `${what} ${shapeString(gain.shape)} does not match the last axis of ${shapeString(x.shape)} (${cols})`,
    );
  }
}

/** (x - mean) / sqrt(var + eps) * weight + bias over the last axis (biased variance, as torch). */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number): Tensor {
  requireFloat("layerNorm", x);
  checkGain("layerNorm", x, weight, "weight");
  checkGain("layerNorm", x, bias, "bias");
  const cols = x.shape[x.rank - 1];
  const rows = x.size / cols;
  const out = empty(x.shape, x.dtype, x.backend);
  const mean = empty([rows], x.dtype, x.backend);
  const rstd = empty([rows], x.dtype, x.backend);
  x.backend.layerNorm(
    x.floats,
    weight?.floats ?? null,
    bias?.floats ?? null,
    out.floats,
    mean.floats,
    rstd.floats,
    rows,
    cols,
    eps,
  );
  if (needsGrad(x, weight, bias)) {
    const inputs = [x, weight, bias].filter((t): t is Tensor => t !== null);
    record(out, "layerNorm", inputs, (g) => {
      const dw = weight?.requiresGrad ? empty(weight.shape, x.dtype, x.backend) : null;
      const db = bias?.requiresGrad ? empty(bias.shape, x.dtype, x.backend) : null;
      const dx = onLiveRows(g, x, cols, [mean, rstd], (gl, xl, [ml, rl], n, dxl) =>
        x.backend.layerNormBackward(
          gl.floats,
          xl.floats,
          weight?.floats ?? null,
          ml.floats,
          rl.floats,
          dxl.floats,
          dw?.floats ?? null,
          db?.floats ?? null,
          n,
          cols,
        ),
      );
      const grads: (Tensor | null)[] = [x.requiresGrad ? dx : null];
      if (!x.requiresGrad) dx.dispose();
      if (weight) grads.push(dw);
      if (bias) grads.push(db);
      return grads;
    });
  }
  return out;
}

/** x / sqrt(mean(x^2) + eps) * weight over the last axis (Llama's RMSNorm). */
export function rmsNorm(x: Tensor, weight: Tensor | null, eps: number): Tensor {
  requireFloat("rmsNorm", x);
  checkGain("rmsNorm", x, weight, "weight");
  const cols = x.shape[x.rank - 1];
  const rows = x.size / cols;
  const out = empty(x.shape, x.dtype, x.backend);
  const rstd = empty([rows], x.dtype, x.backend);
  x.backend.rmsNorm(x.floats, weight?.floats ?? null, out.floats, rstd.floats, rows, cols, eps);
  if (needsGrad(x, weight)) {
    const inputs = weight ? [x, weight] : [x];
    record(out, "rmsNorm", inputs, (g) => {
      const dw = weight?.requiresGrad ? empty(weight.shape, x.dtype, x.backend) : null;
      const dx = onLiveRows(g, x, cols, [rstd], (gl, xl, [rl], n, dxl) =>
        x.backend.rmsNormBackward(
          gl.floats,
          xl.floats,
          weight?.floats ?? null,
          rl.floats,
          dxl.floats,
          dw?.floats ?? null,
          n,
          cols,
        ),
      );
      const grads: (Tensor | null)[] = [x.requiresGrad ? dx : null];
      if (!x.requiresGrad) dx.dispose();
      if (weight) grads.push(dw);
      return grads;
    });
  }
  return out;
}
