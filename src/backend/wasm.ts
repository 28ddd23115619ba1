// The wasm backend: AssemblyScript kernels compiled to WebAssembly with 128-bit SIMD (assembly/, built into
// wasm/adaptlm_kernels.wasm by scripts/build-wasm.mjs), float32 only, running on the calling thread and on
// worker threads that share one WebAssembly.Memory. This is the portable backend: what a browser would run.
// A second build with relaxed SIMD (wasm/adaptlm_kernels_relaxed.wasm: the GEMM micro-kernel uses fused
// multiply-add) is preferred wherever the engine compiles it; see relaxedSimdCompiles.
//
// Memory: every array handed out by alloc is a view into the shared memory, carved by a size-class free-list
// allocator. Kernels take byte addresses; an array that is not a view of this memory (a plain Float32Array)
// is copied into scratch space and back, so every call is correct, only slower.
//
// Threads: a job (kernel, parameter block, number of work items) is published in a shared control block and
// split into chunks that the calling thread and the workers claim with compare-and-swap; small jobs run on
// the calling thread alone, since waking workers costs tens of microseconds.

import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { Worker } from "node:worker_threads";
import { AdaptlmError } from "../errors.js";
import {
  type AdamWStep,
  type AdamWTensor,
  type AnyArray,
  type AttentionArgs,
  type AttentionBackwardArgs,
  attentionStrides,
  type Backend,
  type BinaryOp,
  type DType,
  type FloatArray,
  type GemmArgs,
  type ReduceOp,
  type SampleRowsArgs,
  scanNonzeroRows,
  type TypedArrayOf,
  type UnaryOp,
} from "./backend.js";
import { BINARY_CODES, UNARY_CODES } from "./op-codes.js";
import {
  BASE,
  CONTROL_INTS,
  COUNTER,
  COUNTER_RESET,
  DONE,
  END,
  FAILED,
  GEN,
  KERNEL,
  KERNELS,
  type KernelFunction,
  type KernelName,
  PARAMS,
  PER_CHUNK,
  runChunks,
  SCRATCH_BASE,
  SCRATCH_STRIDE,
  TOTAL,
  type WasmMemory,
  type WasmModule,
  type WorkerInit,
  wasmApi,
} from "./wasm-protocol.js";

const WASM_FILE = join("wasm", "adaptlm_kernels.wasm");
const RELAXED_WASM_FILE = join("wasm", "adaptlm_kernels_relaxed.wasm");
/** Index of each kernel in KERNELS (what the control block carries). */
const K = Object.fromEntries(KERNELS.map((name, index) => [name, index])) as Record<KernelName, number>;
const PAGE = 65536;
const ALIGN = 64;
const MAX_RANK = 8;
const PARAM_SLOTS = 64;

/** Below this many (roughly) scalar operations a job runs on the calling thread only. */
const PARALLEL_MIN_COST = 1 << 18;
/** GEMM below this many flops runs on the calling thread only. */
const GEMM_PARALLEL_MIN_FLOPS = 1 << 21;
/** GEMM blocking: depth of a packed k slice and the largest tile of C one work item computes. */
const DEFAULT_KC = 384;
const DEFAULT_TILE_M = 128;
const DEFAULT_TILE_N = 256;
/** A-panel-outer order inside a tile (measured about even with B-panel-outer; see the GEMM probe's --sweep). */
const DEFAULT_A_OUTER = true;

/** GEMM blocking overrides, for benchmarks that tune the defaults. */
export interface GemmTuning {
  kc?: number;
  tileM?: number;
  tileN?: number;
  /** Loop order inside a tile: A panel outer (B panels streamed) instead of B panel outer. */
  aOuter?: boolean;
  /** Sends products with very few rows through packing too (for comparisons). */
  noSmallM?: boolean;
}

/** Relative cost of one element of each unary op (for the threading decision). */
const UNARY_COST: Record<UnaryOp, number> = {
  neg: 1,
  exp: 8,
  log: 8,
  sqrt: 2,
  rsqrt: 2,
  tanh: 10,
  sigmoid: 10,
  relu: 1,
  gelu: 16,
  geluTanh: 12,
  silu: 10,
  abs: 1,
  square: 1,
  scale: 1,
  shift: 1,
  pow: 30,
  rdiv: 2,
};

/** Finds `file` (wasm/...) above this module (dist/src/backend/ after tsc, src/backend/ from source). */
function findWasmFile(file: string): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, file);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return null;
}

/** The number of threads to use: ADAPTLM_THREADS when set to a positive integer, else every core. */
function requestedThreads(): number {
  const env = process.env.ADAPTLM_THREADS;
  if (env !== undefined && env.trim() !== "") {
    const n = Number.parseInt(env, 10);
    // an unusable value falls back to every core (loading the backend never throws)
    if (Number.isFinite(n) && n >= 1) return n;
  }
  return Math.max(1, availableParallelism());
}

function createMemory(initialPages: number): WasmMemory {
  // A generous maximum (4 GiB); fall back to smaller reservations where the platform refuses.
  for (const maximum of [65536, 32768, 16384, 8192]) {
    try {
      return new wasmApi.Memory({ initial: initialPages, maximum, shared: true });
    } catch {
      // try a smaller maximum
    }
  }
  throw new AdaptlmError("WASM_MEMORY", "could not create a shared WebAssembly.Memory of any size");
}

/** Size class of an allocation in bytes: 64-byte granularity, then 4 classes per power of two. */
function sizeClass(bytes: number): number {
  if (bytes <= 256) return Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
  const step = 2 ** (Math.floor(Math.log2(bytes)) - 2);
  return Math.ceil(bytes / step) * step;
}

function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major walk over shape for the rare layouts the kernels do not take (rank above MAX_RANK). */
function forEachOffsets(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
  visit: (i: number, offsets: number[]) => void,
): void {
  const rank = shape.length;
  const total = product(shape);
  const index = new Array<number>(rank).fill(0);
  const offsets = new Array<number>(strides.length).fill(0);
  for (let i = 0; i < total; i++) {
    visit(i, offsets);
    for (let axis = rank - 1; axis >= 0; axis--) {
      index[axis]++;
      for (let s = 0; s < strides.length; s++) offsets[s] += strides[s][axis];
      if (index[axis] < shape[axis]) break;
      for (let s = 0; s < strides.length; s++) offsets[s] -= strides[s][axis] * shape[axis];
      index[axis] = 0;
    }
  }
}

interface Staged {
  source: AnyArray;
  copy: AnyArray;
  written: boolean;
}

class WasmBackend implements Backend {
  readonly name = "wasm" as const;
  readonly supportsFloat64 = false;
  readonly threads: number;

  private readonly memory: WasmMemory;
  private readonly kernels: KernelFunction[];
  private readonly control: Int32Array;
  private readonly workers: Worker[] = [];
  /** Every SharedArrayBuffer object memory.buffer has returned (a new one after each grow). */
  private readonly buffers: ArrayBufferLike[] = [];
  private buffer: ArrayBufferLike;

  // allocator
  private top: number;
  private readonly freeLists = new Map<number, number[]>();
  private readonly live = new Map<number, number>();

  // per-call state
  private readonly paramsAddress: number;
  private readonly params: Float64Array;
  private scratchBase = 0;
  private scratchStride = 0;
  private readonly staged: Staged[] = [];
  /** Jobs split across threads so far (tests check that the threaded path runs). */
  parallelJobs = 0;

  readonly gemmScratchBytes: number;
  private readonly gemmMaxTileM: number;
  private readonly gemmMaxTileN: number;
  private readonly gemmMaxKC: number;
  private readonly gemmSmallMMax: number;
  private readonly gemmSmallMColumns: (transB: number) => number;
  private readonly tuning: GemmTuning;

  constructor(module: WasmModule, threads: number, workerUrl: URL | null, tuning: GemmTuning) {
    this.memory = createMemory(256);
    const instance = new wasmApi.Instance(module, { env: { memory: this.memory } });
    const exports = instance.exports as Record<string, unknown>;
    this.kernels = KERNELS.map((name: KernelName) => {
      const fn = exports[name];
      if (typeof fn !== "function") {
        throw new AdaptlmError(
          "WASM_STALE",
          `wasm kernel module lacks ${name}: rebuild it with npm run build:wasm`,
        );
      }
      return fn as KernelFunction;
    });
    const heapBase = (exports.heapBase as () => number)() >>> 0;
    this.gemmScratchBytes = (exports.gemmScratchBytes as () => number)();
    this.gemmMaxTileM = (exports.gemmMaxTileM as () => number)();
    this.gemmMaxTileN = (exports.gemmMaxTileN as () => number)();
    this.gemmMaxKC = (exports.gemmMaxKC as () => number)();
    this.gemmSmallMMax = (exports.gemmSmallMMax as () => number)();
    this.gemmSmallMColumns = exports.gemmSmallMColumns as (transB: number) => number;
    this.tuning = tuning;
    this.buffer = this.memory.buffer;
    this.buffers.push(this.buffer);
    this.top = Math.ceil((heapBase + 1024) / ALIGN) * ALIGN;

    this.paramsAddress = this.reserve(PARAM_SLOTS * 8);
    this.params = new Float64Array(this.buffer, this.paramsAddress, PARAM_SLOTS);
    this.control = new Int32Array(new SharedArrayBuffer(CONTROL_INTS * 4));

    let started = 1;
    if (threads > 1 && workerUrl) {
      for (let slot = 1; slot < threads; slot++) {
        const init: WorkerInit = {
          module,
          memory: this.memory,
          control: this.control.buffer as SharedArrayBuffer,
          slot,
        };
        try {
          const worker = new Worker(workerUrl, { workerData: init });
          worker.unref();
          // a worker that dies simply stops claiming chunks; the calling thread does its share
          worker.on("error", () => {});
          this.workers.push(worker);
          started++;
        } catch {
          break;
        }
      }
    }
    this.threads = started;
    this.ensureScratch(this.gemmScratchBytes);
  }

  // ---------------------------------------------------------------- memory

  private growTo(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) {
      const pages = Math.ceil((bytes - have) / PAGE);
      // grow by at least a quarter of the current size, to keep the number of grows small
      const want = Math.max(pages, Math.ceil(have / PAGE / 4));
      try {
        this.memory.grow(want);
      } catch {
        try {
          this.memory.grow(pages);
        } catch (error) {
          throw new AdaptlmError(
            "WASM_OUT_OF_MEMORY",
            `wasm backend needs ${bytes} bytes of linear memory but could not grow beyond ${have}: free tensors or use the native backend`,
            { cause: error },
          );
        }
      }
    }
    const current = this.memory.buffer;
    if (current !== this.buffer) {
      this.buffer = current;
      this.buffers.push(current);
    }
  }

  /** Bump-allocates bytes that are never freed (parameter block, scratch). */
  private reserve(bytes: number): number {
    const address = this.top;
    this.top += Math.ceil(bytes / ALIGN) * ALIGN;
    this.growTo(this.top);
    return address;
  }

  private allocBytes(bytes: number): { address: number; fresh: boolean } {
    const cls = sizeClass(bytes);
    const list = this.freeLists.get(cls);
    let address: number;
    let fresh = false;
    if (list && list.length > 0) {
      address = list.pop()!;
    } else {
      address = this.reserve(cls);
      fresh = true;
    }
    this.live.set(address, cls);
    return { address, fresh };
  }

  private freeBytes(address: number): void {
    const cls = this.live.get(address);
    if (cls === undefined) {
      throw new AdaptlmError(
        "WASM_BAD_RELEASE",
        `release() of an array at byte ${address} that is not a live allocation of the wasm backend: it was released twice or not made by alloc()`,
      );
    }
    this.live.delete(address);
    let list = this.freeLists.get(cls);
    if (!list) {
      list = [];
      this.freeLists.set(cls, list);
    }
    list.push(address);
  }

  alloc<D extends DType>(dtype: D, n: number, zeroed = true): TypedArrayOf<D> {
    if (dtype === "float64") {
      throw new AdaptlmError(
        "WASM_NO_FLOAT64",
        "the wasm backend computes in float32 only (supportsFloat64 is false): use the reference backend for float64",
      );
    }
    if (!Number.isInteger(n) || n < 0) {
      throw new AdaptlmError("BAD_SIZE", `alloc() expects a non-negative integer size, found ${n}`);
    }
    const { address, fresh } = this.allocBytes(Math.max(1, n) * 4);
    const array =
      dtype === "int32" ? new Int32Array(this.buffer, address, n) : new Float32Array(this.buffer, address, n);
    // fresh memory from the bump pointer has never been written; recycled blocks must be cleared
    if (!fresh && zeroed) array.fill(0);
    return array as TypedArrayOf<D>;
  }

  release(array: AnyArray): void {
    // an array from elsewhere (not a view of this memory) is left to the garbage collector, as the other
    // backends do; releasing a block of this memory twice is a bug that would hand it out twice, so it throws
    if (!this.inMemory(array)) return;
    this.freeBytes(array.byteOffset);
  }

  /** True when the array is a view of the shared wasm memory (any of its buffers, before or after grows). */
  private inMemory(array: AnyArray): boolean {
    const buffer = array.buffer;
    if (buffer === this.buffer) return true;
    for (let i = this.buffers.length - 2; i >= 0; i--) if (this.buffers[i] === buffer) return true;
    return false;
  }

  private ensureScratch(bytesPerThread: number): void {
    const stride = Math.ceil(bytesPerThread / ALIGN) * ALIGN;
    if (stride <= this.scratchStride) return;
    if (this.scratchStride > 0) this.freeBytes(this.scratchBase);
    this.scratchBase = this.allocBytes(stride * this.threads).address;
    this.scratchStride = stride;
  }

  // ---------------------------------------------------------------- arguments

  /**
   * Byte address of a float32 array's element `offset`; arrays outside wasm memory are copied into it for
   * the duration of the call (and back afterwards when `written`).
   */
  private f32(array: FloatArray, written: boolean, offset = 0): number {
    if (array instanceof Float64Array) {
      throw new AdaptlmError(
        "WASM_NO_FLOAT64",
        "the wasm backend computes in float32 only and was given a Float64Array: use the reference backend for float64",
      );
    }
    return this.address(array, written) + offset * 4;
  }

  private i32(array: Int32Array, written: boolean): number {
    return this.address(array, written);
  }

  private address(array: AnyArray, written: boolean): number {
    if (this.inMemory(array)) return array.byteOffset;
    for (const s of this.staged) {
      if (s.source === array) {
        s.written ||= written;
        return s.copy.byteOffset;
      }
    }
    const { address } = this.allocBytes(Math.max(1, array.byteLength));
    let copy: AnyArray;
    if (array instanceof Int32Array) copy = new Int32Array(this.buffer, address, array.length);
    else if (array instanceof Float64Array) copy = new Float64Array(this.buffer, address, array.length);
    else copy = new Float32Array(this.buffer, address, array.length);
    copy.set(array as never);
    this.staged.push({ source: array, copy, written });
    return address;
  }

  /** Copies staged outputs back and frees the staging copies. */
  private unstage(): void {
    for (const s of this.staged) {
      if (s.written) s.source.set(s.copy as never);
      this.freeBytes(s.copy.byteOffset);
    }
    this.staged.length = 0;
  }

  private setParams(values: readonly number[]): void {
    const p = this.params;
    for (let i = 0; i < values.length; i++) p[i] = values[i];
  }

  // ---------------------------------------------------------------- dispatch

  /**
   * Runs kernel over items [0, total) in chunks of perChunk items, on the workers too when parallel.
   */
  private run(kernel: number, total: number, perChunk: number, parallel: boolean): void {
    if (total <= 0) return;
    perChunk = Math.max(1, perChunk);
    const chunks = Math.ceil(total / perChunk);
    if (!parallel || this.threads === 1 || chunks === 1) {
      this.kernels[kernel](this.paramsAddress, 0, total, this.scratchBase);
      return;
    }
    this.parallelJobs++;
    const control = this.control;
    let base = Atomics.load(control, COUNTER);
    if (base > COUNTER_RESET) {
      // no job is running: stale workers see COUNTER below their job's BASE and claim nothing
      Atomics.store(control, COUNTER, 0);
      Atomics.store(control, DONE, 0);
      base = 0;
    }
    const end = base + chunks;
    Atomics.add(control, GEN, 1); // odd: being written
    Atomics.store(control, KERNEL, kernel);
    Atomics.store(control, PARAMS, this.paramsAddress | 0);
    Atomics.store(control, TOTAL, total);
    Atomics.store(control, PER_CHUNK, perChunk);
    Atomics.store(control, BASE, base);
    Atomics.store(control, END, end);
    Atomics.store(control, SCRATCH_BASE, this.scratchBase | 0);
    Atomics.store(control, SCRATCH_STRIDE, this.scratchStride | 0);
    Atomics.store(control, FAILED, 0);
    Atomics.add(control, GEN, 1); // even: published
    Atomics.notify(control, GEN);
    runChunks(
      control,
      this.kernels,
      kernel,
      this.paramsAddress,
      total,
      perChunk,
      base,
      end,
      this.scratchBase,
    );
    let polls = 0;
    for (;;) {
      const done = Atomics.load(control, DONE);
      if (done >= end) break;
      if (polls++ < 20000) continue;
      Atomics.wait(control, DONE, done, 5);
    }
    if (Atomics.load(control, FAILED) !== 0) {
      throw new AdaptlmError(
        "WASM_KERNEL_FAILED",
        `wasm kernel ${KERNELS[kernel]} trapped on a worker thread`,
      );
    }
  }

  /** Chunk size for a job of total items costing costPerItem each: serial when small. */
  private plan(total: number, costPerItem: number, minChunk = 1): { parallel: boolean; perChunk: number } {
    if (this.threads === 1 || total * costPerItem < PARALLEL_MIN_COST || total < 2) {
      return { parallel: false, perChunk: total };
    }
    const target = this.threads * 4;
    const byCost = Math.ceil(PARALLEL_MIN_COST / 4 / Math.max(costPerItem, 1e-9));
    const perChunk = Math.max(minChunk, byCost, Math.ceil(total / target));
    return { parallel: perChunk < total, perChunk };
  }

  private call(kernel: number, total: number, costPerItem: number, minChunk = 1): void {
    const { parallel, perChunk } = this.plan(total, costPerItem, minChunk);
    this.run(kernel, total, perChunk, parallel);
  }

  // ---------------------------------------------------------------- kernels

  gemm(args: GemmArgs): void {
    const { batch, m, n, k } = args;
    if (batch <= 0 || m <= 0 || n <= 0) return;
    let g = args;
    const aSpan = (batch - 1) * g.strideA + m * k;
    const bSpan = (batch - 1) * g.strideB + k * n;
    const cSpan = (batch - 1) * g.strideC + m * n;
    if (g.aOffset + aSpan > g.a.length || g.bOffset + bSpan > g.b.length || g.cOffset + cSpan > g.c.length) {
      throw new AdaptlmError(
        "GEMM_OUT_OF_BOUNDS",
        `gemm(batch ${batch}, m ${m}, n ${n}, k ${k}) reaches past its arrays (a ${g.a.length}, b ${g.b.length}, c ${g.c.length} elements): check offsets and strides`,
      );
    }
    if (g.bias) {
      // the kernels have no bias term: C starts as the broadcast bias and the product adds to it
      if (g.bias.length < n || g.beta !== 0) {
        throw new RangeError(
          `gemm: a bias needs n = ${n} values (got ${g.bias.length}) and beta 0 (got ${g.beta})`,
        );
      }
      for (let bi = 0; bi < batch; bi++) {
        this.copyStrided(g.bias, 0, [0, 1], g.c, g.cOffset + bi * g.strideC, [n, 1], [m, n]);
      }
      g = { ...g, beta: 1, bias: null };
    }
    try {
      const a = this.f32(g.a, false, g.aOffset);
      const b = this.f32(g.b, false, g.bOffset);
      const c = this.f32(g.c, true, g.cOffset);
      const flops = 2 * batch * m * n * k;
      const parallel = this.threads > 1 && flops >= GEMM_PARALLEL_MIN_FLOPS;
      if (parallel && batch > 1 && Math.abs(g.strideC) < m * n) {
        // batch entries share C (stride 0 accumulates over the batch): threads may only split one entry
        for (let bi = 0; bi < batch; bi++) {
          this.gemmJob(
            g,
            1,
            a + bi * g.strideA * 4,
            b + bi * g.strideB * 4,
            c + bi * g.strideC * 4,
            parallel,
          );
        }
      } else {
        this.gemmJob(g, batch, a, b, c, parallel);
      }
    } finally {
      if (this.staged.length > 0) this.unstage();
    }
  }

  /** Publishes one GEMM job over `batch` entries starting at byte addresses a, b, c. */
  private gemmJob(g: GemmArgs, batch: number, a: number, b: number, c: number, parallel: boolean): void {
    const { m, n, k } = g;
    if (m <= this.gemmSmallMMax && !this.tuning.noSmallM) {
      // a few rows: stream B directly instead of packing it (matrix-vector products)
      this.ensureScratch(m * k * 4 + m * this.gemmSmallMColumns(0) * 4 + 256);
      const blocks = Math.ceil(n / this.gemmSmallMColumns(g.transB ? 1 : 0));
      const total = batch * blocks;
      this.setParams([
        batch,
        m,
        n,
        k,
        a,
        g.strideA,
        g.transA ? 1 : 0,
        b,
        g.strideB,
        g.transB ? 1 : 0,
        c,
        g.strideC,
        g.alpha,
        g.beta,
      ]);
      this.run(
        K.gemmSmallM,
        total,
        parallel ? Math.max(1, Math.ceil(total / (this.threads * 4))) : total,
        parallel,
      );
      return;
    }
    const { tileM, tileN } = this.gemmTiles(batch, m, n, parallel);
    const tilesM = Math.ceil(m / tileM);
    const tilesN = Math.ceil(n / tileN);
    this.setParams([
      batch,
      m,
      n,
      k,
      a,
      g.strideA,
      g.transA ? 1 : 0,
      b,
      g.strideB,
      g.transB ? 1 : 0,
      c,
      g.strideC,
      g.alpha,
      g.beta,
      tileM,
      tileN,
      tilesM,
      tilesN,
      Math.min(this.tuning.kc ?? DEFAULT_KC, this.gemmMaxKC),
      (this.tuning.aOuter ?? DEFAULT_A_OUTER) ? 1 : 0,
    ]);
    this.run(K.gemmTiles, batch * tilesM * tilesN, 1, parallel);
  }

  /** Tile shape of C per work item: large tiles amortise packing; enough tiles keep every thread busy. */
  private gemmTiles(
    batch: number,
    m: number,
    n: number,
    parallel: boolean,
  ): { tileM: number; tileN: number } {
    const roundUp = (x: number, q: number) => Math.ceil(x / q) * q;
    let tileM = Math.min(roundUp(m, 4), roundUp(this.tuning.tileM ?? DEFAULT_TILE_M, 4));
    let tileN = Math.min(roundUp(n, 8), roundUp(this.tuning.tileN ?? DEFAULT_TILE_N, 8));
    if (parallel) {
      const want = this.threads * 3;
      while (batch * Math.ceil(m / tileM) * Math.ceil(n / tileN) < want) {
        if (tileN >= 64 && tileN >= tileM) tileN = roundUp(tileN / 2, 8);
        else if (tileM >= 16) tileM = roundUp(tileM / 2, 4);
        else break;
      }
    }
    return { tileM: Math.min(tileM, this.gemmMaxTileM), tileN: Math.min(tileN, this.gemmMaxTileN) };
  }

  unary(op: UnaryOp, x: FloatArray, out: FloatArray, n: number, alpha: number): void {
    if (n <= 0) return;
    try {
      this.setParams([UNARY_CODES[op], this.f32(x, false), this.f32(out, true), alpha]);
      this.call(K.unaryKernel, n, UNARY_COST[op], 1024);
    } finally {
      if (this.staged.length > 0) this.unstage();
    }
  }

  unaryBackward(
    op: UnaryOp,
    x: FloatArray,
    y: FloatArray,
    dy: FloatArray,
    dx: FloatArray,
    n: number,
    alpha: number,
  ): void {
    if (n <= 0) return;
    try {
      this.setParams([
        UNARY_CODES[op],
        this.f32(x, false),
        this.f32(y, false),
        this.f32(dy, false),
        this.f32(dx, true),
        alpha,
      ]);
      this.call(K.unaryBackwardKernel, n, UNARY_COST[op] + 1, 1024);
    } finally {
      if (this.staged.length > 0) this.unstage();
    }
  }

  /**
   * Writes shape (params 8..) and up to three stride lists (params 16.., 24.., 32..) with size-1 axes dropped
   * and axes merged where every list is contiguous across them; the output of binary/where is contiguous, so
   * it never blocks a merge. Returns the rank (>= 1), or -1 when more than MAX_RANK axes remain. Allocates
   * nothing: this runs on every element-wise call.
   */
  private collapseInto(
    shape: readonly number[],
    s0: readonly number[],
    s1: readonly number[],
    s2: readonly number[] | null,
  ): number {
    const p = this.params;
    let rank = 0;
    for (let axis = 0; axis < shape.length; axis++) {
      const size = shape[axis];
      if (size === 1) continue;
      const last = rank - 1;
      if (
        rank > 0 &&
        p[16 + last] === s0[axis] * size &&
        p[24 + last] === s1[axis] * size &&
        (s2 === null || p[32 + last] === s2[axis] * size)
      ) {
        p[8 + last] *= size;
        p[16 + last] = s0[axis];
        p[24 + last] = s1[axis];
        if (s2 !== null) p[32 + last] = s2[axis];
        continue;
      }
      if (rank === MAX_RANK) return -1;
      p[8 + rank] = size;
      p[16 + rank] = s0[axis];
      p[24 + rank] = s1[axis];
      if (s2 !== null) p[32 + rank] = s2[axis];
      rank++;
    }
    if (rank === 0) {
      p[8] = 1;
      p[16] = 0;
      p[24] = 0;
      p[32] = 0;
      rank = 1;
    }
    return rank;
  }

  binary(
    op: BinaryOp,
    a: FloatArray,
    aStrides: readonly number[],
    b: FloatArray,
    bStrides: readonly number[],
    out: FloatArray,
    shape: readonly number[],
  ): void {
    const total = product(shape);
    if (total === 0) return;
    const rank = this.collapseInto(shape, aStrides, bStrides, null);
    if (rank < 0) {
      this.binaryFallback(op, a, aStrides, b, bStrides, out, shape);
      return;
    }
    const len = this.params[8 + rank - 1];
    try {
      const p = this.params;
      p[0] = BINARY_CODES[op];
      p[1] = rank;
      p[2] = this.f32(a, false);
      p[3] = this.f32(b, false);
      p[4] = this.f32(out, true);
      this.call(K.binaryKernel, total / len, len * (op === "pow" ? 30 : 1), Math.ceil(1024 / len));
    } finally {
      if (this.staged.length > 0) this.unstage();
    }
  }

  private binaryFallback(
    op: BinaryOp,
    a: FloatArray,
    aStrides: readonly number[],
    b: FloatArray,
    bStrides: readonly number[],
    out: FloatArray,
    shape: readonly number[],
  ): void {
    forEachOffsets(shape, [aStrides, bStrides], (i, [ao, bo]) => {
      const x = a[ao];
      const y = b[bo];
      let r: number;
      switch (op) {
        case "add":
          r = x + y;
          break;
        case "sub":
          r = x - y;
          break;
        case "mul":
          r = x * y;
          break;
        case "div":
          r = x / y;
          break;
        case "pow":
          r = x ** y;
          break;
        case "max":
          r = x >= y ? x : y;
          break;
        case "min":
          r = x <= y ? x : y;
          break;
        case "eq":
          r = x === y ? 1 : 0;
          break;
        case "gt":
          r = x > y ? 1 : 0;
          break;
        case "lt":
          r = x < y ? 1 : 0;
          break;
      }
      out[i] = r;
    });
  }

  where(
    cond: FloatArray | Int32Array,
    condStrides: readonly number[],
    a: FloatArray,
    aStrides: readonly number[],
    b: FloatArray,
    bStrides: readonly number[],
    out: FloatArray,
    shape: readonly number[],
  ): void {
    const total = product(shape);
    if (total === 0) return;
    const rank = this.collapseInto(shape, condStrides, aStrides, bStrides);
    if (rank < 0) {
      forEachOffsets(shape, [condStrides, aStrides, bStrides], (i, [co, ao, bo]) => {
        out[i] = cond[co] !== 0 ? a[ao] : b[bo];
      });
      return;
    }
    const len = this.params[8 + rank - 1];
    try {
      const isInt = cond instanceof Int32Array;
      const p = this.params;
      p[0] = isInt ? 1 : 0;
      p[1] = rank;
      p[2] = isInt ? this.i32(cond, false) : this.f32(cond as FloatArray, false);
      p[3] = this.f32(a, false);
      p[4] = this.f32(b, false);
      p[5] = this.f32(out, true);
      this.call(K.whereKernel, total / len, len * 2, Math.ceil(1024 / len));
    } finally {
      if (this.staged.length > 0) this.unstage();
    }
  }

  reduce(op: ReduceOp, x: FloatArray, out: FloatArray, outer: number, size: number, inner: number): void {
    if (outer <= 0 || inner <= 0) return;
    try {
      this.setParams([op === "max" ? 1 : 0, this.f32(x, false), this.f32(out, true), outer, size, inner]);
      if (inner === 1) this.call(K.reduceKernel, outer, size);
      else this.call(K.reduceKernel, outer * Math.ceil(inner / 4), size * 4);
    } finally {
      if (this.staged.length > 0) this.unstage();
    }
  }

  argmax(x: FloatArray, out: Int32Array, outer: number, size: number, inner: number): void {
    if (outer <= 0 || inner <= 0) return;
    try {
      this.setParams([this.f32(x, false), this.i32(out, true), outer, size, inner]);
      this.call(K.argmaxKernel, outer * inner, size * 2);
    } finally {
      if (this.staged.length > 0) this.unstage();
    }
  }

  sumSquares(x: FloatArray, n: number): number {
    if (n <= 0) return 0;
    let result = 0;
    try {
      const xAddress = this.f32(x, false);
      const { parallel, perChunk } = this.plan(n, 1, 16384);
      const chunks = Math.ceil(n / perChunk);
      const partials = this.alloc("float32", chunks * 2 + 2);
      try {
        const address = Math.ceil(partials.byteOffset / 8) * 8;
        this.setParams([xAddress, address, perChunk]);
        this.run(K.sumSquaresKernel, n, perChunk, parallel);
        const sums = new Float64Array(this.buffer, address, chunks);
        for (let i = 0; i < chunks; i++) result += sums[i];
      } finally {
        this.release(partials);
      }
    } finally {
      if (this.staged.length > 0) this.unstage();
    }
    return result;
  }

  copyStrided(
    src: AnyArray,
    srcOffset: number,
    srcStrides: readonly number[],
    dst: AnyArray,
    dstOffset: number,
    dstStrides: readonly number[],
    shape: readonly number[],
  ): void {
    const total = product(shape);
    if (total === 0) return;
    const sameKind = src instanceof Int32Array === dst instanceof Int32Array;
    const rank =
      sameKind && !(src instanceof Float64Array) && !(dst instanceof Float64Array)
        ? this.collapseInto(shape, srcStrides, dstStrides, null)
        : -1;
    if (rank < 0) {
      // mixed element types (a numeric conversion) or float64: element by element, as the reference does
      forEachOffsets(shape, [srcStrides, dstStrides], (_i, [so, dof]) => {
        dst[dstOffset + dof] = src[srcOffset + so];
      });
      return;
    }
    const len = this.params[8 + rank - 1];
    try {
      const p = this.params;
      p[0] = rank;
      p[1] = this.address(src, false) + srcOffset * 4;
      p[2] = this.address(dst, true) + dstOffset * 4;
      this.call(K.copyKernel, total / len, len, Math.ceil(4096 / len));
    } finally {
      if (this.staged.length > 0) this.unstage();
    }
  }

  fill(out: AnyArray, value: number, offset: number, n: number): void {
    if (n <= 0) return;
    if (out instanceof Float64Array) {
      out.fill(value, offset, offset + n);
      return;
    }
    const bits = out instanceof Int32Array ? new Int32Array([value]) : new Float32Array([value]);
    const pattern = new Uint32Array(bits.buffer)[0];
    try {
      this.setParams([this.address(out, true) + offset * 4, pattern]);
      this.call(K.fillKernel, n, 0.25, 4096);
    } finally {
      if (this.staged.length > 0) this.unstage();
    }
  }

  softmax(x: FloatArray, out: FloatArray, rows: number, cols: number): void {
    this.softmaxLike(x, out, rows, cols, 0);
  }

  logSoftmax(x: FloatArray, out: FloatArray, rows: number, cols: number): void {
    this.softmaxLike(x, out, rows, cols, 1);
  }

  private softmaxLike(x: FloatArray, out: FloatArray, rows: number, cols: number, log: number): void {
    if (rows <= 0 || cols <= 0) return;
    try {
      this.setParams([this.f32(x, false), this.f32(out, true), cols, log]);
      this.call(K.softmaxKernel, rows, cols * 4);
    } finally {
      if (this.staged.length > 0) this.unstage();
    }
  }

  softmaxBackward(y: FloatArray, dy: FloatArray, dx: FloatArray, rows: number, cols: number): void {
    this.softmaxBackwardLike(y, dy, dx, rows, cols, 0);
  }

  logSoftmaxBackward(y: FloatArray, dy: FloatArray, dx: FloatArray, rows: number, cols: number): void {
    this.softmaxBackwardLike(y, dy, dx, rows, cols, 1);
  }

  private softmaxBackwardLike(
    y: FloatArray,
    dy: FloatArray,
    dx: FloatArray,
    rows: number,
    cols: number,
    log: number,
  ): void {
    if (rows <= 0 || cols <= 0) return;
    try {
      this.setParams([this.f32(y, false), this.f32(dy, false), this.f32(dx, true), cols, log]);
      this.call(K.softmaxBackwardKernel, rows, cols * (log ? 4 : 2));
    } finally {
      if (this.staged.length > 0) this.unstage();
    }
  }

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
  ): void {
    if (rows <= 0) return;
    try {
      this.setParams([
        this.f32(x, false),
        w ? this.f32(w, false) : 0,
        b ? this.f32(b, false) : 0,
        this.f32(out, true),
        this.f32(mean, true),
        this.f32(rstd, true),
        cols,
        eps,
        0,
      ]);
      this.call(K.normKernel, rows, cols * 3);
    } finally {
      if (this.staged.length > 0) this.unstage();
    }
  }

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
  ): void {
    this.normBackward(dy, x, w, mean, rstd, dx, dw, db, rows, cols, 0);
  }

  rmsNorm(
    x: FloatArray,
    w: FloatArray | null,
    out: FloatArray,
    rstd: FloatArray,
    rows: number,
    cols: number,
    eps: number,
  ): void {
    if (rows <= 0) return;
    try {
      const rstdAddress = this.f32(rstd, true);
      this.setParams([
        this.f32(x, false),
        w ? this.f32(w, false) : 0,
        0,
        this.f32(out, true),
        rstdAddress,
        rstdAddress,
        cols,
        eps,
        1,
      ]);
      this.call(K.normKernel, rows, cols * 2);
    } finally {
      if (this.staged.length > 0) this.unstage();
    }
  }

  rmsNormBackward(
    dy: FloatArray,
    x: FloatArray,
    w: FloatArray | null,
    rstd: FloatArray,
    dx: FloatArray,
    dw: FloatArray | null,
    rows: number,
    cols: number,
  ): void {
    this.normBackward(dy, x, w, rstd, rstd, dx, dw, null, rows, cols, 1);
  }

  private normBackward(
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
    rms: number,
  ): void {
    if (cols <= 0) return;
    if (rows <= 0) {
      if (dw) dw.fill(0, 0, cols);
      if (db) db.fill(0, 0, cols);
      return;
    }
    try {
      const dyA = this.f32(dy, false);
      const xA = this.f32(x, false);
      const meanA = this.f32(mean, false);
      const rstdA = this.f32(rstd, false);
      this.setParams([dyA, xA, w ? this.f32(w, false) : 0, meanA, rstdA, this.f32(dx, true), cols, rms]);
      this.call(K.normBackwardKernel, rows, cols * 4);
      if (dw || db) {
        this.setParams([
          dyA,
          xA,
          meanA,
          rstdA,
          dw ? this.f32(dw, true) : 0,
          db ? this.f32(db, true) : 0,
          rows,
          cols,
          rms,
        ]);
        this.call(K.normParamGradKernel, Math.ceil(cols / 4), rows * 8);
      }
    } finally {
      if (this.staged.length > 0) this.unstage();
    }
  }

  nonzeroRows(x: FloatArray, rows: number, cols: number, limit: number, out: Int32Array): number {
    // a scan that stops early on dense gradients: on this thread, no round trip to the workers
    return scanNonzeroRows(x, rows, cols, limit, out);
  }

  gatherRows(table: FloatArray, ids: Int32Array, out: FloatArray, cols: number): void {
    if (ids.length === 0 || cols <= 0) return;
    try {
      this.setParams([this.f32(table, false), this.i32(ids, false), this.f32(out, true), cols]);
      this.call(K.gatherRowsKernel, ids.length, cols);
    } finally {
      if (this.staged.length > 0) this.unstage();
    }
  }

  scatterAddRows(dOut: FloatArray, ids: Int32Array, dTable: FloatArray, cols: number, skipId: number): void {
    if (ids.length === 0 || cols <= 0) return;
    try {
      this.setParams([
        this.f32(dOut, false),
        this.i32(ids, false),
        this.f32(dTable, true),
        cols,
        ids.length,
        skipId,
      ]);
      this.call(K.scatterAddRowsKernel, Math.ceil(cols / 4), ids.length * 4, 16);
    } finally {
      if (this.staged.length > 0) this.unstage();
    }
  }

  sampleRows(a: SampleRowsArgs): void {
    if (a.rows <= 0 || a.cols <= 0) return;
    try {
      const sampling = a.temperature > 0;
      if (sampling) this.ensureScratch(a.cols * 8);
      this.setParams([
        this.f32(a.logits, false),
        sampling ? this.address(a.uniforms, false) : 0,
        this.i32(a.tokens, true),
        this.address(a.lse, true),
        a.cols,
        a.temperature,
      ]);
      this.call(K.sampleRowsKernel, a.rows, a.cols * (sampling ? 40 : 20));
    } finally {
      if (this.staged.length > 0) this.unstage();
    }
  }

  crossEntropy(
    logits: FloatArray,
    targets: Int32Array,
    losses: FloatArray,
    lse: FloatArray,
    rows: number,
    cols: number,
    ignoreIndex: number,
  ): void {
    if (rows <= 0) return;
    try {
      this.setParams([
        this.f32(logits, false),
        this.i32(targets, false),
        this.f32(losses, true),
        this.f32(lse, true),
        cols,
        ignoreIndex,
      ]);
      this.call(K.crossEntropyKernel, rows, cols * 4);
    } finally {
      if (this.staged.length > 0) this.unstage();
    }
  }

  crossEntropyBackward(
    logits: FloatArray,
    targets: Int32Array,
    lse: FloatArray,
    dLoss: FloatArray,
    dLogits: FloatArray,
    rows: number,
    cols: number,
    ignoreIndex: number,
  ): void {
    if (rows <= 0) return;
    try {
      this.setParams([
        this.f32(logits, false),
        this.i32(targets, false),
        this.f32(lse, false),
        this.f32(dLoss, false),
        this.f32(dLogits, true),
        cols,
        ignoreIndex,
      ]);
      this.call(K.crossEntropyBackwardKernel, rows, cols * 4);
    } finally {
      if (this.staged.length > 0) this.unstage();
    }
  }

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
  ): void {
    if (batch * heads * seq * headDim <= 0) return;
    this.ensureScratch(headDim * 8 + 128);
    try {
      this.setParams([
        this.f32(x, false),
        this.f32(out, true),
        this.i32(positions, false),
        this.address(invFreq, false),
        batch,
        heads,
        seq,
        headDim,
        inverse ? 1 : 0,
      ]);
      this.call(K.ropeKernel, batch * seq, heads * headDim * 2 + headDim * 20);
    } finally {
      if (this.staged.length > 0) this.unstage();
    }
  }

  attention(a: AttentionArgs): void {
    const { batch, heads, kvHeads, tq, tk, headDim } = a;
    if (batch * heads * tq <= 0) return;
    this.checkHeads(heads, kvHeads);
    try {
      this.setParams([
        batch,
        heads,
        kvHeads,
        tq,
        tk,
        headDim,
        a.scale,
        a.causal ? 1 : 0,
        a.causalOffset,
        this.f32(a.q, false),
        this.f32(a.k, false),
        this.f32(a.v, false),
        a.keyBias ? this.f32(a.keyBias, false) : 0,
        this.f32(a.out, true),
        this.f32(a.probs, true),
        a.kvStride ?? tk,
        a.window ?? 0,
        a.shared ? this.f32(a.shared.k, false) : 0,
        a.shared ? this.f32(a.shared.v, false) : 0,
        a.shared?.length ?? 0,
        ...attentionStrides(a.layout, heads, tq, headDim),
        ...attentionStrides(a.layout, kvHeads, a.kvStride ?? tk, headDim),
      ]);
      const width = (a.shared?.length ?? 0) + tk;
      this.call(K.attentionKernel, batch * heads * tq, width * (headDim * 4 + 10));
    } finally {
      if (this.staged.length > 0) this.unstage();
    }
  }

  attentionBackward(a: AttentionBackwardArgs): void {
    const { batch, heads, kvHeads, tq, tk, headDim } = a;
    if (batch * kvHeads <= 0) return;
    this.checkHeads(heads, kvHeads);
    this.ensureScratch(tk * 4 + 128);
    try {
      this.setParams([
        batch,
        heads,
        kvHeads,
        tq,
        tk,
        headDim,
        a.scale,
        this.f32(a.q, false),
        this.f32(a.k, false),
        this.f32(a.v, false),
        this.f32(a.probs, false),
        this.f32(a.dOut, false),
        this.f32(a.dq, true),
        this.f32(a.dk, true),
        this.f32(a.dv, true),
        ...attentionStrides(a.layout, heads, tq, headDim),
        ...attentionStrides(a.layout, kvHeads, tk, headDim),
      ]);
      this.call(K.attentionBackwardKernel, batch * kvHeads, (heads / kvHeads) * tq * tk * headDim * 8);
    } finally {
      if (this.staged.length > 0) this.unstage();
    }
  }

  private checkHeads(heads: number, kvHeads: number): void {
    if (kvHeads <= 0 || heads % kvHeads !== 0) {
      throw new AdaptlmError(
        "BAD_ATTENTION_HEADS",
        `attention needs heads (${heads}) to be a multiple of kvHeads (${kvHeads})`,
      );
    }
  }

  adamw(tensors: readonly AdamWTensor[], h: AdamWStep): void {
    for (const a of tensors) {
      if (a.n <= 0) continue;
      try {
        this.setParams([
          this.f32(a.param, true),
          this.f32(a.grad, false),
          this.f32(a.m, true),
          this.f32(a.v, true),
          a.lr,
          h.beta1,
          h.beta2,
          h.eps,
          a.weightDecay,
          1 - h.beta1 ** h.step,
          1 - h.beta2 ** h.step,
        ]);
        this.call(K.adamwKernel, a.n, 12, 1024);
      } finally {
        if (this.staged.length > 0) this.unstage();
      }
    }
  }

  /** Bytes of wasm memory in use by live allocations (for tests and diagnostics). */
  liveBytes(): number {
    let total = 0;
    for (const cls of this.live.values()) total += cls;
    return total;
  }
}

export type { WasmBackend };

/** Which build of the kernels the wasm backend runs: "relaxed-simd" (fused multiply-add) or "simd". */
export type WasmKernelBuild = "relaxed-simd" | "simd";

let compiled: { module: WasmModule; build: WasmKernelBuild } | null | undefined;

/**
 * True when this engine compiles relaxed SIMD. Node 20's V8 (11.3) has it behind a flag that later versions
 * turn on by default (V8 11.4, Node 22); the flag only admits the standardised relaxed-SIMD instructions into
 * wasm validation, and V8 reads it when a module is compiled, so setting it here is enough, for workers too.
 * ADAPTLM_WASM_RELAXED=0 keeps the baseline build (the tests compare both).
 */
function relaxedSimdCompiles(bytes: Uint8Array): boolean {
  if (process.env.ADAPTLM_WASM_RELAXED === "0") return false;
  if (wasmApi.validate(bytes)) return true;
  try {
    setFlagsFromString("--experimental-wasm-relaxed-simd");
  } catch {
    return false;
  }
  return wasmApi.validate(bytes);
}

/** The compiled kernel module (the relaxed-SIMD build where it compiles), or null when none is built. */
function kernelModule(): { module: WasmModule; build: WasmKernelBuild } | null {
  if (compiled !== undefined) return compiled;
  compiled = null;
  const candidates = [
    { file: RELAXED_WASM_FILE, build: "relaxed-simd", usable: relaxedSimdCompiles },
    { file: WASM_FILE, build: "simd", usable: () => true },
  ] as const;
  for (const { file, build, usable } of candidates) {
    const path = findWasmFile(file);
    try {
      const bytes = path ? readFileSync(path) : null;
      if (bytes && usable(bytes)) return (compiled = { module: new wasmApi.Module(bytes), build });
    } catch {
      // an unreadable or invalid build: try the next one
    }
  }
  return compiled;
}

/** The kernel build the wasm backend uses in this process, or null when the kernels are not built. */
export function wasmKernelBuild(): WasmKernelBuild | null {
  return kernelModule()?.build ?? null;
}

/**
 * The kernels' register-only multiply-add loop (multiplyAddPeak in assembly/gemm.ts), for benchmarks: it runs
 * `iterations` steps of 48 f32 multiply-adds on the calling thread in this process's kernel build. Null when
 * the kernels are not built.
 */
export function wasmMultiplyAddPeak(): ((iterations: number) => number) | null {
  const kernels = kernelModule();
  if (!kernels) return null;
  const instance = new wasmApi.Instance(kernels.module, { env: { memory: createMemory(64) } });
  const peak = (instance.exports as Record<string, unknown>).multiplyAddPeak;
  return typeof peak === "function" ? (peak as (iterations: number) => number) : null;
}

/**
 * Creates a wasm backend with the given number of threads (default: ADAPTLM_THREADS, else every core).
 * Returns null, never throws, when the kernels are not built or cannot be instantiated here.
 */
export function createWasmBackend(
  options: { threads?: number; gemmTuning?: GemmTuning } = {},
): Backend | null {
  try {
    const kernels = kernelModule();
    if (!kernels) return null;
    const threads = Math.max(1, Math.floor(options.threads ?? requestedThreads()));
    const workerUrl = new URL("./wasm-worker.js", import.meta.url);
    const workerFile = fileURLToPath(workerUrl);
    return new WasmBackend(
      kernels.module,
      threads,
      existsSync(workerFile) ? workerUrl : null,
      options.gemmTuning ?? {},
    );
  } catch {
    return null;
  }
}

let shared: Backend | null | undefined;

/** The process-wide wasm backend (created on first use), or null when the kernels are not built. */
export function loadWasmBackend(): Backend | null {
  if (shared === undefined) shared = createWasmBackend();
  return shared;
}
