// Inverted dropout with a seeded generator: zeroes each element with probability p, scales the rest by
// 1 / (1 - p). Identity when p is 0 or when not training.

import { ShapeError } from "../errors.js";
import type { Rng } from "../random.js";
import { type Tensor, zeros } from "../tensor.js";
import { mul, requireFloat } from "./elementwise.js";

export function dropout(x: Tensor, p: number, rng: Rng, training: boolean): Tensor {
  requireFloat("dropout", x);
  if (!(p >= 0 && p < 1)) throw new ShapeError("dropout", `probability must be in [0, 1), got ${p}`);
  if (!training || p === 0) return x;
  const mask = zeros(x.shape, x.dtype, x.backend);
  const m = mask.floats;
  const keepScale = 1 / (1 - p);
  for (let i = 0; i < mask.size; i++) m[i] = rng.next() < p ? 0 : keepScale;
  return mul(x, mask);
}
