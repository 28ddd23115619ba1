// Seeded parameter initialisers (Hugging Face's _init_weights conventions use normal(0, initializer_range)
// for Linear and Embedding weights, zeros for biases, ones for norm gains).

import type { Backend } from "../backend/backend.js";
import { currentBackend } from "../backend/registry.js";
import type { Rng } from "../tensor/random.js";
import { untracked } from "../tensor/scope.js";
import { type Tensor, zeros } from "../tensor/tensor.js";

/** A persistent float32 tensor filled by fill(index). */
function persistent(shape: readonly number[], fill: (i: number) => number, backend: Backend): Tensor {
  return untracked(() => {
    const t = zeros(shape, "float32", backend);
    const data = t.floats;
    for (let i = 0; i < t.size; i++) data[i] = fill(i);
    return t;
  });
}

export function normalInit(
  shape: readonly number[],
  std: number,
  rng: Rng,
  backend = currentBackend(),
): Tensor {
  return persistent(shape, () => rng.normal() * std, backend);
}

export function uniformInit(
  shape: readonly number[],
  bound: number,
  rng: Rng,
  backend = currentBackend(),
): Tensor {
  return persistent(shape, () => (2 * rng.next() - 1) * bound, backend);
}

export function constantInit(shape: readonly number[], value: number, backend = currentBackend()): Tensor {
  return persistent(shape, () => value, backend);
}
