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

/**
 * A random initialisation put off until it is known to be needed: loading a checkpoint overwrites almost
 * every weight, and drawing 124M normals first costs GPT-2 seconds to tens of seconds of loading.
 */
export interface DeferredInit {
  tensor: Tensor;
  /** Fills the tensor with exactly the values the eager initialiser would have drawn. */
  run(): void;
}

let deferred: DeferredInit[] | null = null;

/**
 * Runs `build` with random initialisers deferred: their tensors start at zero and the generator skips the
 * draws they would have made (normals: 2 per value, Box-Muller's rare redraw of a 0 aside), so every later
 * initialiser sees the state it would have seen. Returns build's result and the deferred fills, to run for the
 * tensors a checkpoint does not provide.
 */
export function deferRandomInit<T>(build: () => T): { result: T; pending: DeferredInit[] } {
  const outer = deferred;
  const pending: DeferredInit[] = [];
  deferred = pending;
  try {
    return { result: build(), pending };
  } finally {
    deferred = outer;
  }
}

function randomTensor(
  shape: readonly number[],
  drawsPerValue: number,
  value: () => number,
  rng: Rng,
  backend: Backend,
): Tensor {
  if (!deferred) return persistent(shape, value, backend);
  const t = persistent(shape, () => 0, backend);
  const start = rng.save();
  rng.skip(drawsPerValue * t.size);
  deferred.push({
    tensor: t,
    run: () => {
      const resume = rng.save();
      rng.restore(start);
      const data = t.floats;
      for (let i = 0; i < t.size; i++) data[i] = value();
      rng.restore(resume);
      for (const fix of fixes.get(data) ?? []) fix(data);
    },
  });
  return t;
}

/** Adjustments made to a freshly initialised tensor (e.g. a zeroed padding row), replayed after a deferred fill. */
const fixes = new WeakMap<object, Array<(data: Float32Array | Float64Array) => void>>();

/** Applies `fix` to `tensor`'s values now, and again after its deferred initialisation if it has one. */
export function afterInit(tensor: Tensor, fix: (data: Float32Array | Float64Array) => void): void {
  fix(tensor.floats);
  const list = fixes.get(tensor.floats) ?? [];
  list.push(fix);
  fixes.set(tensor.floats, list);
}

export function normalInit(
  shape: readonly number[],
  std: number,
  rng: Rng,
  backend = currentBackend(),
): Tensor {
  return randomTensor(shape, 2, () => rng.normal() * std, rng, backend);
}

export function uniformInit(
  shape: readonly number[],
  bound: number,
  rng: Rng,
  backend = currentBackend(),
): Tensor {
  return randomTensor(shape, 1, () => (2 * rng.next() - 1) * bound, rng, backend);
}

export function constantInit(shape: readonly number[], value: number, backend = currentBackend()): Tensor {
  return persistent(shape, () => value, backend);
}
