// Weights packed for decoding. A decoding step multiplies a few rows (one per sequence) by every weight of
// the model, so reading each weight in place costs more than the multiply-adds; a backend with packWeight
// can copy a weight once into its GEMM kernel's layout and reuse that copy every step (x [20, 128] times
// a 4096 x 128 LM head: 380 us in place, 200 us packed, 2 threads, Zen 3).
//
// Inside usePackedWeights(packs, fn), linear() multiplies batches of 2-64 rows through `packs`. A
// weight is packed the second time such a product uses it, so a weight computed within a step (a fresh
// storage every time) is never packed. The copies live as long as `packs`, and whoever makes it promises
// that the weights do not change meanwhile: one generation, not a training loop.

import type { PackedWeight } from "../backend/backend.js";
import type { Storage, Tensor } from "./tensor.js";

/** Products with fewer rows read the weight in place (a single sequence's step: no reuse to pay for it). */
export const PACKED_MIN_ROWS = 2;
/**
 * Products with more rows (a prefill) pack the weight per call as usual: packing once pays for itself over
 * many rows, and that path blocks large products better ([177, 384] x [128, 384]^T: 145-150 us per call
 * against 170-180 through the packed weight).
 */
export const PACKED_MAX_ROWS = 64;

interface Entry {
  n: number;
  k: number;
  transposed: boolean;
  packed: PackedWeight | null;
}

/** The packed copies of one generation's weights, keyed by the weight's storage. */
export class PackedWeights {
  private readonly entries = new WeakMap<Storage, Entry>();

  /**
   * The packing of `weight` as the [n, k] (transposed) or [k, n] operand of a product, or null when the
   * backend packs nothing or this is the weight's first use.
   */
  lookup(weight: Tensor, n: number, k: number, transposed: boolean): PackedWeight | null {
    const backend = weight.backend;
    if (!backend.packWeight || weight.dtype !== "float32" || weight.size !== n * k) return null;
    const storage = weight.storage;
    const entry = this.entries.get(storage);
    if (!entry) {
      this.entries.set(storage, { n, k, transposed, packed: null });
      return null;
    }
    // The same storage viewed as another operand shape is left alone: multiplied in place.
    if (entry.n !== n || entry.k !== k || entry.transposed !== transposed) return null;
    entry.packed ??= backend.packWeight(weight.floats, n, k, transposed);
    return entry.packed;
  }
}

let active: PackedWeights | null = null;

/** Runs fn with linear() multiplying through `packs` (restored afterwards, also on a throw). */
export function usePackedWeights<R>(packs: PackedWeights, fn: () => R): R {
  const saved = active;
  active = packs;
  try {
    return fn();
  } finally {
    active = saved;
  }
}

export function activePackedWeights(): PackedWeights | null {
  return active;
}
