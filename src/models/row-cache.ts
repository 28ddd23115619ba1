// A key/value cache whose batch rows can be selected, repeated and dropped: what batched generation needs to
// share one prefill among `n` samples (repeat a prompt's rows) and to stop computing finished rows (drop
// them). Keys and values of each layer are [rows, kvHeads, positions, headDim], kept outside memory scopes.

import type { Tensor } from "../tensor/index.js";
import * as T from "../tensor/index.js";
import type { DecodingCache } from "./model-inputs.js";

export class RowKVCache implements DecodingCache {
  private readonly keys: (Tensor | null)[];
  private readonly values: (Tensor | null)[];

  constructor(readonly layers: number) {
    this.keys = new Array(layers).fill(null);
    this.values = new Array(layers).fill(null);
  }

  get length(): number {
    return this.keys[0]?.shape[2] ?? 0;
  }

  /** Number of batch rows cached (0 before the first append). */
  get rows(): number {
    return this.keys[0]?.shape[0] ?? 0;
  }

  append(layer: number, key: Tensor, value: Tensor): [Tensor, Tensor] {
    const oldKey = this.keys[layer];
    const oldValue = this.values[layer];
    const nextKey = T.keep(oldKey ? T.concat([oldKey, key], 2) : T.concat([key], 2));
    const nextValue = T.keep(oldValue ? T.concat([oldValue, value], 2) : T.concat([value], 2));
    oldKey?.dispose(false);
    oldValue?.dispose(false);
    this.keys[layer] = nextKey;
    this.values[layer] = nextValue;
    return [nextKey, nextValue];
  }

  /** Keeps rows `indices` in that order (an index may repeat: a prompt's prefill shared by several samples). */
  selectRows(indices: readonly number[]): void {
    for (let layer = 0; layer < this.layers; layer++) {
      this.keys[layer] = gatherRows(this.keys[layer], indices);
      this.values[layer] = gatherRows(this.values[layer], indices);
    }
  }

  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t?.dispose(false);
    this.keys.fill(null);
    this.values.fill(null);
  }
}

/** A new tensor of rows `indices` of x (along axis 0); disposes x. */
function gatherRows(x: Tensor | null, indices: readonly number[]): Tensor | null {
  if (!x) return null;
  const rowSize = x.size / x.shape[0];
  const out = T.untracked(() => T.zeros([indices.length, ...x.shape.slice(1)], x.dtype, x.backend));
  const source = x.data;
  const target = out.data;
  indices.forEach((row, r) => {
    target.set(source.subarray(row * rowSize, (row + 1) * rowSize), r * rowSize);
  });
  x.dispose();
  return out;
}
