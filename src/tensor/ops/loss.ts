// Cross-entropy with an ignore index, fused with log-softmax (one pass over the logits).

import { needsGrad, record } from "../autograd.js";
import { DTypeError, IndexRangeError, NonFiniteError, ShapeError, shapeString } from "../errors.js";
import { empty, type Tensor } from "../tensor.js";
import { requireFloat } from "./elementwise.js";

export const IGNORE_INDEX = -100;

/**
 * Mean cross-entropy of logits [..., classes] against int32 targets [...] over the targets that are not
 * ignoreIndex (torch.nn.functional.cross_entropy with reduction "mean"). When every target is ignored the
 * loss is 0 with zero gradient (torch would return NaN). A non-finite loss throws NonFiniteError.
 */
export function crossEntropy(logits: Tensor, targets: Tensor, ignoreIndex = IGNORE_INDEX): Tensor {
  requireFloat("crossEntropy", logits);
  if (targets.dtype !== "int32")
    throw new DTypeError("crossEntropy", `targets must be int32, got ${targets.dtype}`);
  const classes = logits.shape[logits.rank - 1];
  const rows = logits.size / classes;
  if (
    targets.size !== rows ||
    targets.rank !== logits.rank - 1 ||
    targets.shape.some((d, i) => d !== logits.shape[i])
  ) {
    throw new ShapeError(
      "crossEntropy",
      `targets ${shapeString(targets.shape)} do not match logits ${shapeString(logits.shape)}: expected ${shapeString(logits.shape.slice(0, -1))}`,
    );
  }
  const t = targets.ints;
  let count = 0;
  for (let i = 0; i < rows; i++) {
    if (t[i] === ignoreIndex) continue;
    if (t[i] < 0 || t[i] >= classes) {
      throw new IndexRangeError(
        "crossEntropy",
        `target ${t[i]} at row ${i} is outside [0, ${classes}) and is not the ignore index ${ignoreIndex}`,
      );
    }
    count++;
  }
  const backend = logits.backend;
  const losses = empty([rows], logits.dtype, backend);
  const lse = empty([rows], logits.dtype, backend);
  backend.crossEntropy(
    logits.floats,
    t.subarray(0, rows),
    losses.floats,
    lse.floats,
    rows,
    classes,
    ignoreIndex,
  );
  let total = 0;
  const l = losses.floats;
  for (let i = 0; i < rows; i++) total += l[i];
  const value = count === 0 ? 0 : total / count;
  if (!Number.isFinite(value)) {
    throw new NonFiniteError(
      "crossEntropy",
      `loss is ${value} over logits ${shapeString(logits.shape)}: the logits contain NaN/Inf (diverged training? lower the learning rate or clip gradients)`,
    );
  }
  const out = empty([], logits.dtype, backend);
  out.data[0] = value;
  if (needsGrad(logits)) {
    record(out, "crossEntropy", [logits], (g) => {
      const scale = count === 0 ? 0 : g.data[0] / count;
      const dLoss = empty([rows], logits.dtype, backend);
      backend.fill(dLoss.data, scale, 0, rows);
      const dLogits = empty(logits.shape, logits.dtype, backend);
      backend.crossEntropyBackward(
        logits.floats,
        t.subarray(0, rows),
        lse.floats,
        dLoss.floats,
        dLogits.floats,
        rows,
        classes,
        ignoreIndex,
      );
      dLoss.dispose();
      return [dLogits];
    });
  }
  return out;
}
