// Key/value caches for incremental decoding. Each layer's keys and values live in one preallocated buffer
// [batch, kvHeads, capacity, headDim]; new positions are written in place and attention reads the first
// `length` positions through its kvStride, so a decoding step copies only the new token's keys instead of the
// whole cache (concatenating per step is quadratic in time and holds two copies at once). Capacity grows
// geometrically when a caller did not say how long the sequence will get. Samples of one prompt can share its
// prefill (shareRows): the prompt's keys are then stored once and attention reads them once per step.

import { ShapeError, shapeString } from "../errors.js";
import { untracked } from "../scope.js";
import { empty, type Tensor, viewOf } from "../tensor.js";

/**
 * A layer's cached keys and values: buffers [batch, kvHeads, capacity, headDim], the first `length` used, and
 * the keys every row shares before its own when a prompt's prefill was shared among samples (pass `shared`
 * to attention with `length` as keyLength).
 */
export interface CachedKeys {
  key: Tensor;
  value: Tensor;
  length: number;
  shared?: SharedKeys;
}

/** Keys and values [1, kvHeads, s, headDim] attended by every row before its own. */
export interface SharedKeys {
  key: Tensor;
  value: Tensor;
}

/** One layer's growable key and value buffers. */
export class KVBuffer {
  private key: Tensor | null = null;
  private value: Tensor | null = null;
  private shared: SharedKeys | null = null;
  /** Rows the next append brings after shareRows (no own keys yet). */
  private pendingRows = 0;
  /** Own positions cached per row (after the shared ones). */
  length = 0;

  get rows(): number {
    return this.key?.shape[0] ?? this.pendingRows;
  }

  /** Positions every row shares (0 unless shareRows was called). */
  get sharedLength(): number {
    return this.shared?.key.shape[2] ?? 0;
  }

  get capacity(): number {
    return this.key?.shape[2] ?? 0;
  }

  /**
   * Writes new keys and values [batch, kvHeads, t, headDim] after the cached ones. `capacityHint` is the
   * total length the caller expects (prompt + new tokens), used for the first allocation.
   */
  append(k: Tensor, v: Tensor, capacityHint = 0): CachedKeys {
    const [batch, kvHeads, t, headDim] = k.shape;
    if (k.rank !== 4 || v.shape.some((d, i) => d !== k.shape[i])) {
      throw new ShapeError(
        "kv cache",
        `keys ${shapeString(k.shape)} and values ${shapeString(v.shape)} must be one [batch, kvHeads, t, headDim] shape`,
      );
    }
    if (this.key) {
      const [b, h, , d] = this.key.shape;
      if (b !== batch || h !== kvHeads || d !== headDim) {
        throw new ShapeError(
          "kv cache",
          `new keys ${shapeString(k.shape)} do not fit the cache [${b}, ${h}, ${this.length}, ${d}]`,
        );
      }
    }
    if (!this.key && this.shared && (batch !== this.pendingRows || kvHeads !== this.shared.key.shape[1])) {
      throw new ShapeError(
        "kv cache",
        `new keys ${shapeString(k.shape)} do not fit ${this.pendingRows} rows sharing keys ${shapeString(this.shared.key.shape)}`,
      );
    }
    const needed = this.length + t;
    const hint = capacityHint - this.sharedLength;
    if (needed > this.capacity) this.grow(k, Math.max(needed, hint, 2 * this.capacity));
    const key = this.key as Tensor;
    const value = this.value as Tensor;
    writePositions(key, k, this.length);
    writePositions(value, v, this.length);
    this.length = needed;
    return this.shared ? { key, value, length: needed, shared: this.shared } : { key, value, length: needed };
  }

  /**
   * Turns the cached positions of the single row into keys shared by `rows` rows, which then start with no
   * own keys: a prompt prefilled once for several samples is stored once and read once per step.
   */
  shareRows(rows: number): void {
    if (this.rows !== 1 || this.shared || !this.key || !this.value) {
      throw new ShapeError(
        "kv cache",
        `shareRows needs a cache of one row and no shared keys yet (it has ${this.rows} rows${this.shared ? " and shared keys" : ""})`,
      );
    }
    const [, kvHeads, , headDim] = this.key.shape;
    const compact = (buffer: Tensor) => {
      const out = untracked(() => empty([1, kvHeads, this.length, headDim], buffer.dtype, buffer.backend));
      copyPositions(buffer, out, this.length);
      buffer.dispose(false);
      return out;
    };
    this.shared = { key: compact(this.key), value: compact(this.value) };
    this.key = null;
    this.value = null;
    this.length = 0;
    this.pendingRows = rows;
  }

  /** Keeps batch rows `indices` in that order (an index may repeat). */
  selectRows(indices: readonly number[]): void {
    if (!this.key || !this.value) {
      this.pendingRows = indices.length;
      return;
    }
    // Dropping finished rows (ascending indices) moves the kept rows down in place; anything else (one
    // prompt's row repeated for its samples) gathers into a new buffer. Either way only the `length` used
    // positions of each row move, not the whole capacity.
    const ascending = indices.every((row, i) => i === 0 || row > indices[i - 1]);
    const select = ascending ? compactRows : gatherRows;
    this.key = select(this.key, indices, this.length);
    this.value = select(this.value, indices, this.length);
  }

  dispose(): void {
    this.key?.dispose(false);
    this.value?.dispose(false);
    this.shared?.key.dispose(false);
    this.shared?.value.dispose(false);
    this.key = null;
    this.value = null;
    this.shared = null;
    this.length = 0;
    this.pendingRows = 0;
  }

  private grow(like: Tensor, capacity: number): void {
    const [batch, kvHeads, , headDim] = like.shape;
    const allocate = () =>
      untracked(() => empty([batch, kvHeads, capacity, headDim], like.dtype, like.backend));
    const key = allocate();
    const value = allocate();
    if (this.key && this.value) {
      copyPositions(this.key, key, this.length);
      copyPositions(this.value, value, this.length);
      this.key.dispose(false);
      this.value.dispose(false);
    }
    this.key = key;
    this.value = value;
  }
}

/** target[:, :, at:at+t, :] = source [batch, kvHeads, t, headDim]: one strided copy (a decode step with 20
 * rows would otherwise make a typed-array view per row and head, per layer). */
function writePositions(target: Tensor, source: Tensor, at: number): void {
  const [batch, kvHeads, t, headDim] = source.shape;
  const block = t * headDim;
  const capacity = target.shape[2];
  target.backend.copyStrided(
    source.data,
    0,
    [block, 1],
    target.data,
    at * headDim,
    [capacity * headDim, 1],
    [batch * kvHeads, block],
  );
}

/** The first `length` positions of each [batch, kvHeads] block of source, into target (larger capacity). */
function copyPositions(source: Tensor, target: Tensor, length: number): void {
  const [batch, kvHeads, sourceCapacity, headDim] = source.shape;
  const targetCapacity = target.shape[2];
  target.backend.copyStrided(
    source.data,
    0,
    [sourceCapacity * headDim, 1],
    target.data,
    0,
    [targetCapacity * headDim, 1],
    [batch * kvHeads, length * headDim],
  );
}

/** The first `length` positions of every head of source row `from` into target row `to` (same capacity). */
function copyRow(source: Tensor, from: number, target: Tensor, to: number, length: number): void {
  const [, kvHeads, capacity, headDim] = source.shape;
  const rowSize = kvHeads * capacity * headDim;
  target.backend.copyStrided(
    source.data,
    from * rowSize,
    [capacity * headDim, 1],
    target.data,
    to * rowSize,
    [capacity * headDim, 1],
    [kvHeads, length * headDim],
  );
}

/** Rows `indices` of x [batch, kvHeads, capacity, headDim] in a new buffer; disposes x. */
function gatherRows(x: Tensor, indices: readonly number[], length: number): Tensor {
  const out = untracked(() => empty([indices.length, ...x.shape.slice(1)], x.dtype, x.backend));
  indices.forEach((row, r) => {
    copyRow(x, row, out, r, length);
  });
  x.dispose(false);
  return out;
}

/** Rows `indices` (ascending, so each row moves down or stays) moved to the front of x's own buffer: a view
 * of its first indices.length rows; disposes x. */
function compactRows(x: Tensor, indices: readonly number[], length: number): Tensor {
  indices.forEach((row, r) => {
    if (row !== r) copyRow(x, row, x, r, length);
  });
  const out = untracked(() => viewOf(x, [indices.length, ...x.shape.slice(1)]));
  x.dispose(false);
  return out;
}

/**
 * Keys and values of the tokens seen so far, per layer, for incremental decoding: append the new tokens'
 * k/v and attend over everything cached (pass `length` as attention's keyLength).
 */
export class KVCache {
  private readonly buffers: KVBuffer[];

  /** `capacity`: the expected final length (prompt + new tokens); the cache grows past it if needed. */
  constructor(
    readonly layers: number,
    readonly capacityHint = 0,
  ) {
    this.buffers = Array.from({ length: layers }, () => new KVBuffer());
  }

  /** Number of positions cached per row, shared ones included (0 before the first append). */
  get length(): number {
    const first = this.buffers[0];
    return first ? first.sharedLength + first.length : 0;
  }

  /** Number of batch rows cached (0 before the first append). */
  get rows(): number {
    return this.buffers[0]?.rows ?? 0;
  }

  /** Appends [batch, kvHeads, t, headDim] k and v for layer; returns the layer's buffers and used length. */
  append(layer: number, k: Tensor, v: Tensor): CachedKeys {
    const buffer = this.buffers[layer];
    if (!buffer) throw new ShapeError("kv cache", `layer ${layer} out of range [0, ${this.layers})`);
    return buffer.append(k, v, this.capacityHint);
  }

  /** Keeps batch rows `indices` in that order: repeat prompts' prefills for their samples, drop finished rows. */
  selectRows(indices: readonly number[]): void {
    for (const buffer of this.buffers) buffer.selectRows(indices);
  }

  /** After a one-row prefill: its positions become keys shared by `rows` rows (see KVBuffer.shareRows). */
  shareRows(rows: number): void {
    for (const buffer of this.buffers) buffer.shareRows(rows);
  }

  dispose(): void {
    for (const buffer of this.buffers) buffer.dispose();
  }
}
