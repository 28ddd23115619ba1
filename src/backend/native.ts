// The native backend: a Node-API addon in C (native/*.c, built by node-gyp at install into
// build/Release/adaptlm_native.node) with AVX-512 / AVX2 GEMM micro-kernels chosen by CPUID, fused
// element-wise kernels and its own thread pool. This file only adapts the Backend interface to the
// addon's positional calling convention and pools the typed arrays handed out by alloc.

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type {
  AdamWStep,
  AdamWTensor,
  AnyArray,
  AttentionArgs,
  AttentionBackwardArgs,
  Backend,
  DType,
  FloatArray,
  GemmArgs,
  PackedWeight,
  ReduceOp,
  SampleRowsArgs,
  TypedArrayOf,
  UnaryOp,
} from "./backend.js";
import { BINARY_CODES, UNARY_CODES } from "./op-codes.js";

/** The addon's exports (native/binding.c); arguments are positional to keep calls allocation-free. */
interface NativeAddon {
  init(scratch: Int32Array): void;
  threads(): number;
  alignOffset(array: Float32Array | Int32Array): number;
  setThreads(n: number): number;
  isa(): string;
  bestIsa(): string;
  setIsa(name: string): string;
  gemm(
    batch: number,
    m: number,
    n: number,
    k: number,
    a: FloatArray,
    aOffset: number,
    strideA: number,
    transA: boolean,
    b: FloatArray,
    bOffset: number,
    strideB: number,
    transB: boolean,
    c: FloatArray,
    cOffset: number,
    strideC: number,
    alpha: number,
    beta: number,
    bias: FloatArray | null,
  ): void;
  packedWidth(): number;
  packWeight(
    w: FloatArray,
    wOffset: number,
    n: number,
    k: number,
    transposed: boolean,
    dst: Float32Array,
  ): number;
  gemmPacked(
    m: number,
    n: number,
    k: number,
    a: FloatArray,
    aOffset: number,
    packed: Float32Array,
    packedOffset: number,
    width: number,
    c: FloatArray,
    cOffset: number,
    beta: number,
  ): void;
  unary(op: number, x: FloatArray, out: FloatArray, n: number, alpha: number): void;
  unaryBackward(
    op: number,
    x: FloatArray,
    y: FloatArray,
    dy: FloatArray,
    dx: FloatArray,
    n: number,
    alpha: number,
  ): void;
  binary(op: number, a: FloatArray, b: FloatArray, out: FloatArray, rank: number): void;
  where(cond: FloatArray | Int32Array, a: FloatArray, b: FloatArray, out: FloatArray, rank: number): void;
  reduce(max: boolean, x: FloatArray, out: FloatArray, outer: number, size: number, inner: number): void;
  argmax(x: FloatArray, out: Int32Array, outer: number, size: number, inner: number): void;
  sumSquares(x: FloatArray, n: number): number;
  copyStrided(src: AnyArray, srcOffset: number, dst: AnyArray, dstOffset: number, rank: number): void;
  fill(out: AnyArray, value: number, offset: number, n: number): void;
  softmax(x: FloatArray, out: FloatArray, rows: number, cols: number): void;
  softmaxBackward(y: FloatArray, dy: FloatArray, dx: FloatArray, rows: number, cols: number): void;
  logSoftmax(x: FloatArray, out: FloatArray, rows: number, cols: number): void;
  logSoftmaxBackward(y: FloatArray, dy: FloatArray, dx: FloatArray, rows: number, cols: number): void;
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
  nonzeroRows(x: FloatArray, rows: number, cols: number, limit: number, out: Int32Array): number;
  gatherRows(table: FloatArray, ids: Int32Array, out: FloatArray, cols: number): void;
  scatterAddRows(dOut: FloatArray, ids: Int32Array, dTable: FloatArray, cols: number, skipId: number): void;
  crossEntropy(
    logits: FloatArray,
    targets: Int32Array,
    losses: FloatArray,
    lse: FloatArray,
    rows: number,
    cols: number,
    ignoreIndex: number,
  ): void;
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
  attention(
    batch: number,
    heads: number,
    kvHeads: number,
    tq: number,
    tk: number,
    headDim: number,
    scale: number,
    causal: boolean,
    causalOffset: number,
    q: FloatArray,
    k: FloatArray,
    v: FloatArray,
    keyBias: FloatArray | null,
    out: FloatArray,
    probs: FloatArray,
    kvStride: number,
    window: number,
    sharedK: FloatArray | null,
    sharedV: FloatArray | null,
    sharedLength: number,
    tokens: boolean,
  ): void;
  attentionBackward(
    batch: number,
    heads: number,
    kvHeads: number,
    tq: number,
    tk: number,
    headDim: number,
    scale: number,
    q: FloatArray,
    k: FloatArray,
    v: FloatArray,
    probs: FloatArray,
    dOut: FloatArray,
    dq: FloatArray,
    dk: FloatArray,
    dv: FloatArray,
    tokens: boolean,
  ): void;
  sampleRows(
    logits: FloatArray,
    uniforms: Float64Array,
    tokens: Int32Array,
    lse: Float64Array,
    rows: number,
    cols: number,
    temperature: number,
  ): void;
  /** Tensor t: arrays[4t..4t+3] are its param, grad, m and v, scalars[3t..3t+2] its n, lr and weight decay. */
  adamw(
    arrays: AnyArray[],
    scalars: Float64Array,
    beta1: number,
    beta2: number,
    eps: number,
    step: number,
  ): void;
}

/** Instruction sets of the GEMM micro-kernels, best last. */
export type NativeIsa = "scalar" | "avx2" | "avx512";

/**
 * The Backend plus controls that only the native backend has (benchmarks and tests use them); its optional
 * packed-weight products are always there.
 */
export interface NativeBackend
  extends Omit<Backend, "packWeight" | "gemmPacked">,
    Required<Pick<Backend, "packWeight" | "gemmPacked">> {
  readonly name: "native";
  /** Restarts the thread pool with n threads (the ADAPTLM_THREADS environment variable sets the default). */
  setThreads(n: number): void;
  /** The instruction set in use. */
  readonly isa: NativeIsa;
  /** The best instruction set this CPU supports. */
  readonly bestIsa: NativeIsa;
  /** Uses `isa`, or the best supported one below it; returns the one in effect. */
  setIsa(isa: NativeIsa): NativeIsa;
  /** Elements from the start of `array` to its first 64-byte boundary: 0 for every array alloc gives. */
  alignOffset(array: Float32Array | Int32Array): number;
}

const MAX_RANK = 16;
/** Most bytes the alloc pool keeps for reuse; beyond it released arrays are left to the garbage collector. */
const POOL_BYTE_LIMIT = 1 << 30;
/** Most arrays of one size the pool keeps. */
const POOL_PER_SIZE = 64;

/** Where the addon lies: build/Release under the package root, from src/backend or dist/src/backend. */
export function nativeAddonPath(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 5; up++) {
    const candidate = join(dir, "build", "Release", "adaptlm_native.node");
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return null;
}

function loadAddon(): NativeAddon | null {
  try {
    const path = nativeAddonPath();
    if (path === null) return null;
    const require = createRequire(import.meta.url);
    return require(path) as NativeAddon;
  } catch {
    return null;
  }
}

/** Size-keyed free lists of typed arrays, so that a kernel's output costs no allocation. */
class ArrayPool {
  private readonly float32 = new Map<number, Float32Array[]>();
  private readonly int32 = new Map<number, Int32Array[]>();
  private bytes = 0;

  constructor(
    private readonly zero: (array: Float32Array | Int32Array) => void,
    private readonly alignOffset: (array: Float32Array | Int32Array) => number,
  ) {}

  take<D extends DType>(dtype: D, n: number, zeroed: boolean): TypedArrayOf<D> {
    if (dtype === "float64") return new Float64Array(n) as TypedArrayOf<D>;
    const lists = dtype === "int32" ? this.int32 : this.float32;
    const list = lists.get(n);
    const reused = list?.pop();
    if (reused !== undefined) {
      this.bytes -= reused.byteLength;
      if (zeroed) this.zero(reused);
      return reused as TypedArrayOf<D>;
    }
    // 15 spare elements: a view of n from the first 64-byte boundary (V8 gives 16-byte aligned memory)
    const spare = dtype === "int32" ? new Int32Array(n + 15) : new Float32Array(n + 15);
    const start = this.alignOffset(spare);
    return spare.subarray(start, start + n) as TypedArrayOf<D>;
  }

  give(array: AnyArray): void {
    if (array instanceof Float64Array) return;
    if (this.bytes + array.byteLength > POOL_BYTE_LIMIT) return;
    const lists = (array instanceof Int32Array ? this.int32 : this.float32) as Map<number, AnyArray[]>;
    let list = lists.get(array.length);
    if (list === undefined) {
      list = [];
      lists.set(array.length, list);
    }
    if (list.length >= POOL_PER_SIZE) return;
    list.push(array);
    this.bytes += array.byteLength;
  }
}

function createNativeBackend(addon: NativeAddon): NativeBackend {
  // Shapes and strides of the strided kernels: [shape, strides of operand 0, strides of operand 1, ...].
  const dims = new Int32Array(MAX_RANK * 4);
  addon.init(dims);

  const putDims = (shape: readonly number[], ...strides: (readonly number[])[]): number => {
    const rank = shape.length;
    if (rank > MAX_RANK) {
      throw new RangeError(`native backend: tensors of rank ${rank} are not supported (at most ${MAX_RANK})`);
    }
    for (let i = 0; i < rank; i++) dims[i] = shape[i];
    for (let s = 0; s < strides.length; s++) {
      const list = strides[s];
      if (list.length !== rank) {
        throw new RangeError(`native backend: ${list.length} strides given for a rank-${rank} shape`);
      }
      for (let i = 0; i < rank; i++) dims[(s + 1) * rank + i] = list[i];
    }
    return rank;
  };

  const pool = new ArrayPool(
    (array) => {
      if (array.length > 4096) addon.fill(array, 0, 0, array.length);
      else array.fill(0);
    },
    (array) => addon.alignOffset(array),
  );

  return {
    name: "native",
    get threads(): number {
      return addon.threads();
    },
    supportsFloat64: false,
    get isa(): NativeIsa {
      return addon.isa() as NativeIsa;
    },
    get bestIsa(): NativeIsa {
      return addon.bestIsa() as NativeIsa;
    },
    setThreads(n: number): void {
      addon.setThreads(n);
    },
    setIsa(isa: NativeIsa): NativeIsa {
      return addon.setIsa(isa) as NativeIsa;
    },
    alignOffset(array: Float32Array | Int32Array): number {
      return addon.alignOffset(array);
    },

    alloc<D extends DType>(dtype: D, n: number, zeroed = true): TypedArrayOf<D> {
      return pool.take(dtype, n, zeroed);
    },
    release(array: AnyArray, reuse = true): void {
      if (reuse) pool.give(array);
    },

    gemm(g: GemmArgs): void {
      addon.gemm(
        g.batch,
        g.m,
        g.n,
        g.k,
        g.a,
        g.aOffset,
        g.strideA,
        g.transA,
        g.b,
        g.bOffset,
        g.strideB,
        g.transB,
        g.c,
        g.cOffset,
        g.strideC,
        g.alpha,
        g.beta,
        g.bias ?? null,
      );
    },

    packWeight(w: FloatArray, n: number, k: number, transposed: boolean): PackedWeight {
      const width = addon.packedWidth();
      // 16 spare floats: the panels start at the buffer's first 64-byte boundary
      const data = new Float32Array(Math.ceil(n / width) * width * k + 16);
      const offset = addon.packWeight(w, 0, n, k, transposed, data);
      return { n, k, data, offset, width };
    },
    gemmPacked(m, a, aOffset, weight, c, cOffset, beta): void {
      addon.gemmPacked(
        m,
        weight.n,
        weight.k,
        a,
        aOffset,
        weight.data,
        weight.offset,
        weight.width,
        c,
        cOffset,
        beta,
      );
    },

    unary(op: UnaryOp, x: FloatArray, out: FloatArray, n: number, alpha: number): void {
      addon.unary(UNARY_CODES[op], x, out, n, alpha);
    },
    unaryBackward(op, x, y, dy, dx, n, alpha): void {
      addon.unaryBackward(UNARY_CODES[op], x, y, dy, dx, n, alpha);
    },
    binary(op, a, aStrides, b, bStrides, out, shape): void {
      addon.binary(BINARY_CODES[op], a, b, out, putDims(shape, aStrides, bStrides));
    },
    where(cond, condStrides, a, aStrides, b, bStrides, out, shape): void {
      addon.where(cond, a, b, out, putDims(shape, condStrides, aStrides, bStrides));
    },
    reduce(op: ReduceOp, x, out, outer, size, inner): void {
      addon.reduce(op === "max", x, out, outer, size, inner);
    },
    argmax(x, out, outer, size, inner): void {
      addon.argmax(x, out, outer, size, inner);
    },
    sumSquares(x, n): number {
      return addon.sumSquares(x, n);
    },
    copyStrided(src, srcOffset, srcStrides, dst, dstOffset, dstStrides, shape): void {
      addon.copyStrided(src, srcOffset, dst, dstOffset, putDims(shape, srcStrides, dstStrides));
    },
    fill(out, value, offset, n): void {
      addon.fill(out, value, offset, n);
    },

    softmax(x, out, rows, cols): void {
      addon.softmax(x, out, rows, cols);
    },
    softmaxBackward(y, dy, dx, rows, cols): void {
      addon.softmaxBackward(y, dy, dx, rows, cols);
    },
    logSoftmax(x, out, rows, cols): void {
      addon.logSoftmax(x, out, rows, cols);
    },
    logSoftmaxBackward(y, dy, dx, rows, cols): void {
      addon.logSoftmaxBackward(y, dy, dx, rows, cols);
    },
    layerNorm(x, w, b, out, mean, rstd, rows, cols, eps): void {
      addon.layerNorm(x, w, b, out, mean, rstd, rows, cols, eps);
    },
    layerNormBackward(dy, x, w, mean, rstd, dx, dw, db, rows, cols): void {
      addon.layerNormBackward(dy, x, w, mean, rstd, dx, dw, db, rows, cols);
    },
    rmsNorm(x, w, out, rstd, rows, cols, eps): void {
      addon.rmsNorm(x, w, out, rstd, rows, cols, eps);
    },
    rmsNormBackward(dy, x, w, rstd, dx, dw, rows, cols): void {
      addon.rmsNormBackward(dy, x, w, rstd, dx, dw, rows, cols);
    },

    nonzeroRows(x, rows, cols, limit, out): number {
      return addon.nonzeroRows(x, rows, cols, limit, out);
    },
    gatherRows(table, ids, out, cols): void {
      addon.gatherRows(table, ids, out, cols);
    },
    scatterAddRows(dOut, ids, dTable, cols, skipId): void {
      addon.scatterAddRows(dOut, ids, dTable, cols, skipId);
    },
    crossEntropy(logits, targets, losses, lse, rows, cols, ignoreIndex): void {
      addon.crossEntropy(logits, targets, losses, lse, rows, cols, ignoreIndex);
    },
    crossEntropyBackward(logits, targets, lse, dLoss, dLogits, rows, cols, ignoreIndex): void {
      addon.crossEntropyBackward(logits, targets, lse, dLoss, dLogits, rows, cols, ignoreIndex);
    },
    rope(x, out, positions, invFreq, batch, heads, seq, headDim, inverse): void {
      addon.rope(x, out, positions, invFreq, batch, heads, seq, headDim, inverse);
    },

    attention(a: AttentionArgs): void {
      addon.attention(
        a.batch,
        a.heads,
        a.kvHeads,
        a.tq,
        a.tk,
        a.headDim,
        a.scale,
        a.causal,
        a.causalOffset,
        a.q,
        a.k,
        a.v,
        a.keyBias,
        a.out,
        a.probs,
        a.kvStride ?? a.tk,
        a.window ?? 0,
        a.shared?.k ?? null,
        a.shared?.v ?? null,
        a.shared?.length ?? 0,
        a.layout === "tokens",
      );
    },
    attentionBackward(a: AttentionBackwardArgs): void {
      addon.attentionBackward(
        a.batch,
        a.heads,
        a.kvHeads,
        a.tq,
        a.tk,
        a.headDim,
        a.scale,
        a.q,
        a.k,
        a.v,
        a.probs,
        a.dOut,
        a.dq,
        a.dk,
        a.dv,
        a.layout === "tokens",
      );
    },

    adamw(tensors: readonly AdamWTensor[], h: AdamWStep): void {
      const arrays: AnyArray[] = new Array(4 * tensors.length);
      const scalars = new Float64Array(3 * tensors.length);
      tensors.forEach((t, i) => {
        arrays[4 * i] = t.param;
        arrays[4 * i + 1] = t.grad;
        arrays[4 * i + 2] = t.m;
        arrays[4 * i + 3] = t.v;
        scalars[3 * i] = t.n;
        scalars[3 * i + 1] = t.lr;
        scalars[3 * i + 2] = t.weightDecay;
      });
      addon.adamw(arrays, scalars, h.beta1, h.beta2, h.eps, h.step);
    },

    sampleRows(a: SampleRowsArgs): void {
      addon.sampleRows(a.logits, a.uniforms, a.tokens, a.lse, a.rows, a.cols, a.temperature);
    },
  };
}

let cached: NativeBackend | null | undefined;

/**
 * The native backend, or null (never an exception) when the addon was not built or does not load on this
 * machine. The same instance is returned on every call.
 */
export function loadNativeBackend(): NativeBackend | null {
  if (cached === undefined) {
    const addon = loadAddon();
    cached = addon === null ? null : createNativeBackend(addon);
  }
  return cached;
}
