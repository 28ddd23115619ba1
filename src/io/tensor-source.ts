// The plain-data view of stored tensors shared by every checkpoint reader in src/io (safetensors files,
// sharded safetensors folders, llama2.c checkpoints). The io layer does not know the tensor engine: it hands
// out typed arrays plus shapes, row-major (C order), and the model layer wraps them.

/** Element types as named by safetensors (the llama2.c reader reports its float32 weights as "F32"). */
export type StoredDtype =
  | "BOOL"
  | "U8"
  | "I8"
  | "U16"
  | "I16"
  | "F16"
  | "BF16"
  | "U32"
  | "I32"
  | "F32"
  | "U64"
  | "I64"
  | "F64"
  | "F8_E4M3"
  | "F8_E5M2";

/** Where and how one tensor is stored. `byteLength` is the size on disk (numel * bytes per element). */
export interface StoredTensorInfo {
  dtype: StoredDtype;
  shape: number[];
  byteLength: number;
}

/**
 * A tensor read into memory. Floating dtypes (F16, BF16, F32, F64) arrive as Float32Array (F64 is rounded to
 * float32); integer and boolean dtypes arrive as Int32Array (64-bit and unsigned 32-bit values are range
 * checked). `dtype` is the dtype on disk. `data.length` = product of `shape` (1 for a scalar, shape []).
 */
export type LoadedTensor =
  | { dtype: StoredDtype; shape: number[]; data: Float32Array }
  | { dtype: StoredDtype; shape: number[]; data: Int32Array };

/** A read-only, name-addressed collection of stored tensors, read on demand. */
export interface TensorSource {
  /** Tensor names, sorted. */
  names(): string[];
  has(name: string): boolean;
  /** Dtype, shape and size without reading the data. Throws a typed not-found error for unknown names. */
  info(name: string): StoredTensorInfo;
  /** Reads one tensor (see LoadedTensor for the conversions). */
  read(name: string): LoadedTensor;
  /** Reads a floating tensor as float32; throws a typed error for integer dtypes. */
  readFloat32(name: string): Float32Array;
  /**
   * readFloat32 into `out`, which must hold exactly numel elements: loading a model fills each parameter in
   * place instead of reading into a temporary array that lives until the garbage collector runs (for GPT-2's
   * 154 MB token embedding that temporary was a third of the weights on top of them at the loading peak).
   */
  readFloat32Into(name: string, out: Float32Array): void;
  /** Reads an integer/boolean tensor as int32 (range checked); throws a typed error for float dtypes. */
  readInt32(name: string): Int32Array;
  /** Releases file descriptors; later reads throw a typed error. Safe to call twice. */
  close(): void;
}

/** Number of elements of a shape (1 for the scalar shape []). */
export function shapeSize(shape: readonly number[]): number {
  let size = 1;
  for (const dim of shape) size *= dim;
  return size;
}
