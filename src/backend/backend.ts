// The kernel contract every backend implements. Kernels work on flat, contiguous typed arrays and plain
// numbers; they know nothing of shapes beyond the sizes passed in, nothing of autograd, and never allocate
// their outputs (the caller passes them in), so a backend call is as cheap as a function call.
//
// Float arrays are Float32Array everywhere; the reference backend also accepts Float64Array (used by the
// gradient checks). Index arrays (token ids, targets, positions) are Int32Array.

export type FloatArray = Float32Array | Float64Array;
export type DType = "float32" | "float64" | "int32";
export type TypedArrayOf<D extends DType> = D extends "int32"
  ? Int32Array
  : D extends "float64"
    ? Float64Array
    : Float32Array;
export type AnyArray = Float32Array | Float64Array | Int32Array;

export type BackendName = "reference" | "native" | "wasm";

/** Element-wise maps y = f(x) (some take the scalar `alpha`). */
export type UnaryOp =
  | "neg"
  | "exp"
  | "log"
  | "sqrt"
  | "rsqrt"
  | "tanh"
  | "sigmoid"
  | "relu"
  | "gelu" // exact: x * 0.5 * (1 + erf(x / sqrt(2)))
  | "geluTanh" // HF gelu_new: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))
  | "silu"
  | "abs"
  | "square"
  | "scale" // x * alpha
  | "shift" // x + alpha
  | "pow" // x ** alpha
  | "rdiv"; // alpha / x

/** Element-wise maps out = f(a, b) with broadcasting through strides. */
export type BinaryOp = "add" | "sub" | "mul" | "div" | "pow" | "max" | "min" | "eq" | "gt" | "lt";

export type ReduceOp = "sum" | "max";

/**
 * Batched GEMM on row-major matrices: for each batch index i,
 *   C_i[m, n] = alpha * op(A_i)[m, k] @ op(B_i)[k, n] + beta * C_i
 * op(A) = A^T when transA (A_i is then stored as [k, m]); likewise for B ([n, k] when transB).
 * A_i starts at aOffset + i * strideA (strideA 0 broadcasts one matrix over the batch); same for B, C.
 * When beta is 0, C is overwritten and its previous contents (even NaN) are ignored.
 * bias, when given (beta must then be 0), is a row of n values added to every row of every C_i: a Linear
 * layer's bias, which backends add where the product writes C instead of in a separate pass over it.
 */
export interface GemmArgs {
  batch: number;
  m: number;
  n: number;
  k: number;
  a: FloatArray;
  aOffset: number;
  strideA: number;
  transA: boolean;
  b: FloatArray;
  bOffset: number;
  strideB: number;
  transB: boolean;
  c: FloatArray;
  cOffset: number;
  strideC: number;
  alpha: number;
  beta: number;
  bias?: FloatArray | null;
}

/**
 * A weight packed once into a backend's GEMM panels (see Backend.packWeight): n outputs, k inputs, its
 * panels in `data` from `offset`, `width` columns each. Opaque to everything but the backend that made it.
 */
export interface PackedWeight {
  readonly n: number;
  readonly k: number;
  readonly data: Float32Array;
  readonly offset: number;
  readonly width: number;
}

/**
 * How attention's q, k, v and out (and their gradients) are laid out. "heads" (the default): contiguous
 * [batch, heads, seq, headDim] blocks. "tokens": [batch, seq, heads, headDim] rows, the heads of a token side
 * by side, which is how a Linear projection writes them: models attend their projections and get the context
 * back as [batch, seq, hidden] without permuting heads in and out (16 copies of 256 KB per step of the tiny
 * training benchmark). "tokens" is not combined with kvStride or shared keys.
 */
export type AttentionLayout = "heads" | "tokens";

/** Backend.nonzeroRows in plain TypeScript (the reference and wasm backends). */
export function scanNonzeroRows(
  x: FloatArray,
  rows: number,
  cols: number,
  limit: number,
  out: Int32Array,
): number {
  let count = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      // NaN !== 0 as well; -0 === 0
      if (x[base + c] !== 0) {
        if (count === limit) return limit + 1;
        out[count++] = r;
        break;
      }
    }
  }
  return count;
}

/**
 * Element strides [batch, head, position] of a q-like (heads, t positions) or k-like (kvHeads, stride
 * positions allocated) operand under a layout (absent: "heads"); the last axis (headDim d) is contiguous.
 */
export function attentionStrides(
  layout: AttentionLayout | undefined,
  heads: number,
  positions: number,
  d: number,
): [number, number, number] {
  return layout === "tokens"
    ? [positions * heads * d, d, heads * d]
    : [heads * positions * d, positions * d, d];
}

/**
 * Scaled dot-product attention over [batch, heads, seq, headDim] blocks (all contiguous; see layout).
 * Query head h reads key/value head floor(h / (heads / kvHeads)) (grouped-query attention).
 * Query i may see key j when j <= i + causalOffset (causal; pass causalOffset = tk - tq for a KV cache or a
 * prefix, which puts the queries at the end of the keys), or always when causal is false.
 * keyBias, when given, is an additive [batch, tk] term (0 for visible keys, a large negative number for
 * padding), added after scaling, as Hugging Face adds its extended attention mask.
 * probs [batch, heads, tq, tk] receives the attention probabilities (needed by the backward pass).
 */
export interface AttentionArgs {
  batch: number;
  heads: number;
  kvHeads: number;
  tq: number;
  tk: number;
  headDim: number;
  scale: number;
  causal: boolean;
  causalOffset: number;
  q: FloatArray; // [batch, heads, tq, headDim]
  k: FloatArray; // [batch, kvHeads, tk, headDim]
  v: FloatArray; // [batch, kvHeads, tk, headDim]
  keyBias: FloatArray | null; // [batch, tk]
  out: FloatArray; // [batch, heads, tq, headDim], overwritten
  probs: FloatArray; // [batch, heads, tq, (shared length +) tk], overwritten
  /**
   * Positions allocated per key/value head (default tk): k and v are then [batch, kvHeads, kvStride, headDim]
   * and only the first tk positions are read, so a preallocated KV cache is attended in place.
   */
  kvStride?: number;
  /**
   * Sliding-window attention (Mistral, Qwen2): with causal, query i also stops seeing keys j with
   * (i + causalOffset) - j >= window. 0 or absent: no window.
   */
  window?: number;
  /**
   * Keys and values every batch row attends before its own, k and v [kvHeads, length, headDim] (a prompt
   * prefilled once for several samples, read once instead of once per row). Each probability row is then
   * length + tk wide, shared keys first; they are visible to every query (the causal offset and mask apply
   * to the row's own keys). Not combined with keyBias or window. Forward only.
   */
  shared?: { k: FloatArray; v: FloatArray; length: number } | null;
  /** Layout of q, k, v and out (default "heads"). */
  layout?: AttentionLayout;
}

/** Gradients of attention given the saved probabilities. dq, dk, dv are overwritten. */
export interface AttentionBackwardArgs {
  batch: number;
  heads: number;
  kvHeads: number;
  tq: number;
  tk: number;
  headDim: number;
  scale: number;
  q: FloatArray;
  k: FloatArray;
  v: FloatArray;
  probs: FloatArray;
  dOut: FloatArray; // [batch, heads, tq, headDim]
  dq: FloatArray;
  dk: FloatArray; // [batch, kvHeads, tk, headDim]
  dv: FloatArray;
  /** Layout of q, k, v, dOut and the gradients (default "heads"). */
  layout?: AttentionLayout;
}

/**
 * Next-token choice for each row of logits [rows, cols] (decoding without top-k/top-p), sums in float64:
 *   lse[r] = max + log(sum_i exp(row[i] - max)), so log p(i) = row[i] - lse[r] at temperature 1;
 *   temperature <= 0: tokens[r] = argmax of the row (first index on ties; NaN never wins);
 *   temperature > 0: with tempered[i] = fround(row[i] / temperature) (as a Float32Array of tempered logits
 *   holds them) and p = softmax(tempered), tokens[r] = the first id whose cumulative probability in id order
 *   reaches uniforms[r] (inverse CDF; the last id if rounding leaves the total short of it).
 * Rows are independent: a row's results do not depend on the other rows or on the thread count. The reference
 * and wasm backends take float64 exps; native takes float32 ones of row[i] * (1 / temperature): lse within
 * ~1e-6, and a draw within that of a boundary between two ids can pick the neighbour, as differing logits would.
 */
export interface SampleRowsArgs {
  logits: FloatArray; // [rows, cols]
  rows: number;
  cols: number;
  temperature: number;
  uniforms: Float64Array; // [rows], each in [0, 1); unread when temperature <= 0
  tokens: Int32Array; // [rows], written
  lse: Float64Array; // [rows], written
}

/** One tensor of an AdamW step, updated in place: its first n values of param, m and v, from grad. */
export interface AdamWTensor {
  param: Float32Array | Float64Array;
  grad: FloatArray;
  m: FloatArray;
  v: FloatArray;
  n: number;
  /** Its group's learning rate and weight decay. */
  lr: number;
  weightDecay: number;
}

/** What every tensor of one AdamW step shares. */
export interface AdamWStep {
  beta1: number;
  beta2: number;
  eps: number;
  step: number; // 1-based, after increment
}

export interface Backend {
  readonly name: BackendName;
  /** Threads the kernels may use. */
  readonly threads: number;
  /** True only for the reference backend: kernels also accept Float64Array. */
  readonly supportsFloat64: boolean;

  /**
   * An array of n elements, zero-filled unless zeroed is false (then its contents are unspecified: the
   * caller overwrites every element, which saves clearing recycled memory). Give it back with release.
   */
  alloc<D extends DType>(dtype: D, n: number, zeroed?: boolean): TypedArrayOf<D>;
  /** Returns an array to the backend's pool; the caller must not touch it afterwards. */
  /**
   * Hands an array back. reuse false says its size will not be asked for again (a growing KV cache), so a
   * pooling backend should not keep it for reuse.
   */
  release(array: AnyArray, reuse?: boolean): void;

  gemm(args: GemmArgs): void;
  /**
   * Optional (inference): packs the weight of x W^T (`transposed`: w is [n, k]) or x W (w is [k, n]) into
   * the GEMM kernel's panels, so that products with it skip packing it every call. The packing is a copy:
   * valid while w does not change, and only on this backend under its current instruction set.
   */
  packWeight?(w: FloatArray, n: number, k: number, transposed: boolean): PackedWeight;
  /** With packWeight: c [m, n] (from cOffset) = a [m, k] (row-major, from aOffset) times the weight + beta c. */
  gemmPacked?(
    m: number,
    a: FloatArray,
    aOffset: number,
    weight: PackedWeight,
    c: FloatArray,
    cOffset: number,
    beta: number,
  ): void;

  /** out[i] = f(x[i]) for i < n. */
  unary(op: UnaryOp, x: FloatArray, out: FloatArray, n: number, alpha: number): void;
  /** dx[i] = dy[i] * f'(x[i]); y = f(x) is given for ops whose derivative is cheaper from it. */
  unaryBackward(
    op: UnaryOp,
    x: FloatArray,
    y: FloatArray,
    dy: FloatArray,
    dx: FloatArray,
    n: number,
    alpha: number,
  ): void;

  /**
   * out[idx] = f(a[dot(idx, aStrides)], b[dot(idx, bStrides)]) for every idx in shape (row-major, out
   * contiguous). A stride of 0 broadcasts. Comparison ops write 1 or 0.
   */
  binary(
    op: BinaryOp,
    a: FloatArray,
    aStrides: readonly number[],
    b: FloatArray,
    bStrides: readonly number[],
    out: FloatArray,
    shape: readonly number[],
  ): void;

  /** out[idx] = cond[...] != 0 ? a[...] : b[...], broadcasting through strides like binary. */
  where(
    cond: FloatArray | Int32Array,
    condStrides: readonly number[],
    a: FloatArray,
    aStrides: readonly number[],
    b: FloatArray,
    bStrides: readonly number[],
    out: FloatArray,
    shape: readonly number[],
  ): void;

  /** x viewed as [outer, size, inner]; out [outer, inner] = reduction over the middle axis. */
  reduce(op: ReduceOp, x: FloatArray, out: FloatArray, outer: number, size: number, inner: number): void;
  /** Like reduce("max"), writing the index (first on ties) of the maximum. */
  argmax(x: FloatArray, out: Int32Array, outer: number, size: number, inner: number): void;
  /** Sum of squares of x[0..n): the building block of global-norm gradient clipping. */
  sumSquares(x: FloatArray, n: number): number;

  /**
   * dst[dstOffset + dot(idx, dstStrides)] = src[srcOffset + dot(idx, srcStrides)] for idx in shape.
   * Every layout change (permute, slice, concat, expand, contiguous copies) is one of these.
   */
  copyStrided(
    src: AnyArray,
    srcOffset: number,
    srcStrides: readonly number[],
    dst: AnyArray,
    dstOffset: number,
    dstStrides: readonly number[],
    shape: readonly number[],
  ): void;
  fill(out: AnyArray, value: number, offset: number, n: number): void;

  /** Row-wise over [rows, cols]. */
  softmax(x: FloatArray, out: FloatArray, rows: number, cols: number): void;
  /** dx = y * (dy - sum(dy * y)) row-wise. */
  softmaxBackward(y: FloatArray, dy: FloatArray, dx: FloatArray, rows: number, cols: number): void;
  logSoftmax(x: FloatArray, out: FloatArray, rows: number, cols: number): void;
  /** dx = dy - exp(y) * sum(dy) row-wise. */
  logSoftmaxBackward(y: FloatArray, dy: FloatArray, dx: FloatArray, rows: number, cols: number): void;

  /** y = (x - mean) * rstd * w + b over rows of length cols; saves mean and rstd [rows]. w, b may be null. */
  layerNorm(
    x: FloatArray,
    w: FloatArray | null,
    b: FloatArray | null,
    out: FloatArray,
    mean: FloatArray,
    rstd: FloatArray,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  /** Overwrites dx, and dw/db (when non-null) with their full (summed over rows) values. */
  layerNormBackward(
    dy: FloatArray,
    x: FloatArray,
    w: FloatArray | null,
    mean: FloatArray,
    rstd: FloatArray,
    dx: FloatArray,
    dw: FloatArray | null,
    db: FloatArray | null,
    rows: number,
    cols: number,
  ): void;
  /** y = x * rstd * w, rstd = 1 / sqrt(mean(x^2) + eps). w may be null. */
  rmsNorm(
    x: FloatArray,
    w: FloatArray | null,
    out: FloatArray,
    rstd: FloatArray,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  rmsNormBackward(
    dy: FloatArray,
    x: FloatArray,
    w: FloatArray | null,
    rstd: FloatArray,
    dx: FloatArray,
    dw: FloatArray | null,
    rows: number,
    cols: number,
  ): void;

  /**
   * The rows of x [rows, cols] holding a value other than +0 or -0 (NaN counts), in ascending order, into
   * out (at least min(rows, limit + 1) long); returns their count, or limit + 1 as soon as more than `limit`
   * are found (the scan stops there: a dense gradient costs a look at a few hundred rows).
   */
  nonzeroRows(x: FloatArray, rows: number, cols: number, limit: number, out: Int32Array): number;

  /** out[i, :] = table[ids[i], :] for i < ids.length; table is [vocab, cols]. Ids are range-checked by the caller. */
  gatherRows(table: FloatArray, ids: Int32Array, out: FloatArray, cols: number): void;
  /** dTable[ids[i], :] += dOut[i, :], skipping rows whose id equals skipId (padding_idx; -1 skips none). */
  scatterAddRows(dOut: FloatArray, ids: Int32Array, dTable: FloatArray, cols: number, skipId: number): void;

  /**
   * Row-wise cross-entropy over logits [rows, cols]: losses[i] = logsumexp(row) - row[target], 0 where
   * target == ignoreIndex; lse[i] saves logsumexp for the backward pass.
   */
  crossEntropy(
    logits: FloatArray,
    targets: Int32Array,
    losses: FloatArray,
    lse: FloatArray,
    rows: number,
    cols: number,
    ignoreIndex: number,
  ): void;
  /** dLogits[i, :] = dLoss[i] * (softmax(row) - onehot(target)), 0 rows for ignored targets. */
  crossEntropyBackward(
    logits: FloatArray,
    targets: Int32Array,
    lse: FloatArray,
    dLoss: FloatArray,
    dLogits: FloatArray,
    rows: number,
    cols: number,
    ignoreIndex: number,
  ): void;

  /**
   * Rotary embedding, Hugging Face rotate-half convention, on x [batch, heads, seq, headDim]:
   * out = x * cos + rotate_half(x) * sin with rotate_half(x) = cat(-x2, x1), angle(pos, i) = pos * invFreq[i]
   * for i < headDim / 2 (repeated for both halves). positions [batch, seq]. inverse rotates by -angle (the
   * backward pass).
   */
  rope(
    x: FloatArray,
    out: FloatArray,
    positions: Int32Array,
    invFreq: Float64Array,
    batch: number,
    heads: number,
    seq: number,
    headDim: number,
    inverse: boolean,
  ): void;

  attention(args: AttentionArgs): void;
  attentionBackward(args: AttentionBackwardArgs): void;

  /** Next-token choice over every row of logits in one pass: see SampleRowsArgs. */
  sampleRows(args: SampleRowsArgs): void;

  /**
   * One decoupled-weight-decay Adam step (PyTorch's AdamW formula) over every tensor of a model at once: one
   * call per step rather than one per parameter, so that a model of many small tensors (biases, norms) pays
   * the call and the thread pool's start once.
   */
  adamw(tensors: readonly AdamWTensor[], step: AdamWStep): void;
}
