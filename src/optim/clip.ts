// Gradient clipping by global norm (torch.nn.utils.clip_grad_norm_): scales every gradient by
// maxNorm / (totalNorm + 1e-6) when the total L2 norm exceeds maxNorm.

import { NonFiniteError } from "../tensor/errors.js";
import type { Tensor } from "../tensor/tensor.js";

/** Returns the total norm before clipping; throws NonFiniteError when it is NaN or infinite. */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): number {
  let squares = 0;
  for (const p of params) if (p.grad) squares += p.backend.sumSquares(p.grad.floats, p.grad.size);
  const total = Math.sqrt(squares);
  if (!Number.isFinite(total)) {
    throw new NonFiniteError(
      "clipGradNorm",
      `gradient norm is ${total}: training diverged or the data contains NaN; lower the learning rate or check the inputs`,
    );
  }
  const coefficient = maxNorm / (total + 1e-6);
  if (coefficient < 1) {
    for (const p of params) {
      if (p.grad) p.backend.unary("scale", p.grad.floats, p.grad.floats, p.grad.size, coefficient);
    }
  }
  return total;
}
