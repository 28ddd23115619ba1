// Tensor: a shape, an element type and a contiguous buffer owned by a backend, plus what autograd needs
// (requiresGrad, the accumulated grad, and the node that made it). Tensors are always contiguous; views that
// keep the element order (reshape) share the buffer through a reference-counted Storage.

import type { AnyArray, Backend, DType, FloatArray } from "../backend/backend.js";
import { currentBackend } from "../backend/registry.js";
import { DisposedTensorError, DTypeError, ShapeError, shapeString } from "./errors.js";
import { track, untracked } from "./scope.js";

let liveStorages = 0;

/** Buffers allocated and not yet given back: a leak shows up as growth of this number. */
export function liveStorageCount(): number {
  return liveStorages;
}

/** A buffer shared by the tensors that view it; returned to the backend when the last one is disposed. */
export class Storage {
  refs = 1;
  constructor(
    readonly data: AnyArray,
    readonly backend: Backend,
  ) {
    liveStorages++;
  }

  /** reuse false: the buffer's size will not recur, so the backend should not pool it. */
  release(reuse = true): void {
    if (--this.refs === 0) {
      liveStorages--;
      this.backend.release(this.data, reuse);
    }
  }
}

/** How a tensor was computed: its inputs and the map from its gradient to theirs. */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /**
   * Gradients w.r.t. each input (null where an input needs none), given the output gradient. into[i], when
   * not null, is input i's gradient pending from other consumers, held by nothing else: the node may add its
   * gradient into it in place and return into[i] itself for that input (a product with beta 1 instead of a
   * fresh product and a separate sum, as for a residual stream's projections).
   */
  backward(gradOutput: Tensor, into: readonly (Tensor | null)[]): (Tensor | null)[];
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export class Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly size: number;
  requiresGrad = false;
  node: GradNode | null = null;
  private storageRef: Storage | null;
  private gradRef: Tensor | null = null;
  /** zeroGrad was called since grad was last written: grad reads as zeros until a backward pass replaces it. */
  private gradZeroPending = false;

  constructor(storage: Storage, shape: readonly number[], dtype: DType) {
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = sizeOf(shape);
    if (storage.data.length < this.size) {
      throw new ShapeError(
        "Tensor",
        `buffer of ${storage.data.length} elements cannot hold ${shapeString(shape)}`,
      );
    }
    this.storageRef = storage;
    track(this);
  }

  get disposed(): boolean {
    return this.storageRef === null;
  }

  get storage(): Storage {
    if (!this.storageRef) throw new DisposedTensorError("Tensor.storage");
    return this.storageRef;
  }

  get backend(): Backend {
    return this.storage.backend;
  }

  /** The elements, row-major. Valid until the tensor is disposed. */
  get data(): AnyArray {
    return this.storage.data;
  }

  /** The elements as a float array; throws a typed error for int32 tensors. */
  get floats(): FloatArray {
    if (this.dtype === "int32")
      throw new DTypeError("Tensor.floats", "tensor holds int32 values, not floats");
    return this.storage.data as FloatArray;
  }

  get ints(): Int32Array {
    if (this.dtype !== "int32")
      throw new DTypeError("Tensor.ints", `tensor holds ${this.dtype} values, not int32`);
    return this.storage.data as Int32Array;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1)
      throw new ShapeError("item", `tensor ${shapeString(this.shape)} has ${this.size} elements, not 1`);
    return this.data[0];
  }

  /** A copy of the elements as a plain array. */
  toArray(): number[] {
    return Array.from(this.data.subarray(0, this.size));
  }

  /** Frees the buffer (when no other tensor views it). reuse false: see Storage.release. */
  dispose(reuse = true): void {
    if (!this.storageRef) return;
    this.storageRef.release(reuse);
    this.storageRef = null;
    this.node = null;
  }

  /** The gradient that backward passes accumulate into this leaf; null before the first one reaches it. */
  get grad(): Tensor | null {
    if (this.gradZeroPending) {
      this.gradZeroPending = false;
      const g = this.gradRef;
      if (g) g.backend.fill(g.data, 0, 0, g.size);
    }
    return this.gradRef;
  }

  set grad(value: Tensor | null) {
    this.gradRef = value;
    this.gradZeroPending = false;
  }

  /**
   * Sets grad to zeros, lazily: the next backward pass writes its gradient in place of the zeros instead of
   * filling and then adding to them (two passes over every parameter's gradient per training step).
   */
  zeroGrad(): void {
    if (this.gradRef) this.gradZeroPending = true;
  }

  /** For backward: the gradient to add into, or null when there is none or it is a pending zero. */
  get gradToAccumulate(): Tensor | null {
    return this.gradZeroPending ? null : this.gradRef;
  }

  /** For backward: makes g this leaf's gradient, freeing the one it replaces. */
  replaceGrad(g: Tensor): void {
    const old = this.gradRef;
    this.grad = g;
    if (old && old !== g) old.dispose();
  }

  /** Marks a leaf tensor as trainable (or not). Returns this. */
  setRequiresGrad(value = true): this {
    if (value && this.dtype === "int32")
      throw new DTypeError("setRequiresGrad", "int32 tensors cannot require gradients");
    this.requiresGrad = value;
    return this;
  }

  toString(): string {
    return `Tensor(${shapeString(this.shape)}, ${this.dtype}, ${this.backend.name})`;
  }
}

function checkShape(op: string, shape: readonly number[]): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0)
      throw new ShapeError(op, `invalid shape ${shapeString(shape)}: sizes must be non-negative integers`);
  }
}

/** A zero-filled tensor. */
export function zeros(
  shape: readonly number[],
  dtype: DType = "float32",
  backend: Backend = currentBackend(),
): Tensor {
  checkShape("zeros", shape);
  if (dtype === "float64" && !backend.supportsFloat64) {
    throw new DTypeError(
      "zeros",
      `backend ${backend.name} has no float64; use the reference backend for float64`,
    );
  }
  const data = backend.alloc(dtype, sizeOf(shape));
  return new Tensor(new Storage(data, backend), shape, dtype);
}

/**
 * A tensor whose elements are unspecified: only for outputs a kernel overwrites entirely (saves clearing
 * recycled buffers on hot paths).
 */
export function empty(
  shape: readonly number[],
  dtype: DType = "float32",
  backend: Backend = currentBackend(),
): Tensor {
  checkShape("empty", shape);
  if (dtype === "float64" && !backend.supportsFloat64) {
    throw new DTypeError(
      "empty",
      `backend ${backend.name} has no float64; use the reference backend for float64`,
    );
  }
  const data = backend.alloc(dtype, sizeOf(shape), false);
  return new Tensor(new Storage(data, backend), shape, dtype);
}

export function full(
  shape: readonly number[],
  value: number,
  dtype: DType = "float32",
  backend: Backend = currentBackend(),
): Tensor {
  const t = zeros(shape, dtype, backend);
  if (value !== 0) backend.fill(t.data, value, 0, t.size);
  return t;
}

export function ones(
  shape: readonly number[],
  dtype: DType = "float32",
  backend: Backend = currentBackend(),
): Tensor {
  return full(shape, 1, dtype, backend);
}

/** A tensor holding a copy of values (a flat array in row-major order). */
export function tensor(
  values: ArrayLike<number>,
  shape: readonly number[] = [values.length],
  dtype: DType = "float32",
  backend: Backend = currentBackend(),
): Tensor {
  const t = zeros(shape, dtype, backend);
  if (values.length !== t.size) {
    throw new ShapeError(
      "tensor",
      `${values.length} values do not fill shape ${shapeString(shape)} (${t.size} elements)`,
    );
  }
  if (dtype === "int32") {
    for (let i = 0; i < values.length; i++) {
      if (!Number.isInteger(values[i]))
        throw new DTypeError("tensor", `int32 tensor given non-integer value ${values[i]} at ${i}`);
    }
  }
  t.data.set(values as ArrayLike<number>);
  return t;
}

export function scalar(value: number, dtype: DType = "float32", backend: Backend = currentBackend()): Tensor {
  return tensor([value], [], dtype, backend);
}

/** A tensor of the same shape, dtype and backend as like, zero-filled. */
export function zerosLike(like: Tensor, dtype: DType = like.dtype): Tensor {
  return zeros(like.shape, dtype, like.backend);
}

/** A new tensor viewing t's buffer (no copy) with another shape of the same size, or a smaller one that views
 * the buffer's leading elements. */
export function viewOf(t: Tensor, shape: readonly number[]): Tensor {
  const storage = t.storage;
  storage.refs++;
  return new Tensor(storage, shape, t.dtype);
}

/** Copies t to another backend (or the same one), detached from the graph. */
export function copyTo(t: Tensor, backend: Backend, dtype: DType = t.dtype): Tensor {
  const out = zeros(t.shape, dtype, backend);
  out.data.set(t.data.subarray(0, t.size));
  return out;
}

/** A persistent (scope-free) zero tensor, for parameters, gradients and optimizer state. */
export function persistentZeros(shape: readonly number[], dtype: DType, backend: Backend): Tensor {
  return untracked(() => zeros(shape, dtype, backend));
}
