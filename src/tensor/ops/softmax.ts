// Softmax and log-softmax along an axis (the last by default, as attention and classifiers use).

import { needsGrad, record } from "../autograd.js";
import { empty, type Tensor } from "../tensor.js";
import { requireFloat } from "./elementwise.js";
import { normalizeAxis } from "./reduce.js";
import { transpose } from "./shape.js";

function alongLastAxis(x: Tensor, axis: number, fn: (lastAxisInput: Tensor) => Tensor): Tensor {
  const a = normalizeAxis("softmax", axis, x.rank);
  if (a === x.rank - 1) return fn(x);
  const moved = transpose(x, a, -1);
  const result = fn(moved);
  return transpose(result, a, -1);
}

type RowKernel = "softmax" | "logSoftmax";

/** A row-wise normalisation along an axis, its backward pass computed from the output. */
function rowwise(kernel: RowKernel, x: Tensor, axis: number): Tensor {
  requireFloat(kernel, x);
  return alongLastAxis(x, axis, (input) => {
    const cols = input.shape[input.rank - 1];
    const rows = cols === 0 ? 0 : input.size / cols;
    const backend = input.backend;
    const out = empty(input.shape, input.dtype, backend);
    backend[kernel](input.floats, out.floats, rows, cols);
    if (needsGrad(input)) {
      record(out, kernel, [input], (g) => {
        const dx = empty(input.shape, input.dtype, backend);
        const backwardKernel = kernel === "softmax" ? backend.softmaxBackward : backend.logSoftmaxBackward;
        backwardKernel.call(backend, out.floats, g.floats, dx.floats, rows, cols);
        return [dx];
      });
    }
    return out;
  });
}

export function softmax(x: Tensor, axis = -1): Tensor {
  return rowwise("softmax", x, axis);
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return rowwise("logSoftmax", x, axis);
}
