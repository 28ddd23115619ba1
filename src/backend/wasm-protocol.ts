// The protocol between the wasm backend's calling thread and its worker threads: the layout of the shared
// control block and the table of kernel entry points. Every kernel export has the signature
// (params, begin, end, scratch): params is a block of f64 values in wasm memory, [begin, end) a range of
// work items, scratch the calling thread's private area.
//
// A job is published with a seqlock on GEN (odd while the job is written); its work is split into chunks of
// items claimed with compare-and-swap on COUNTER, which only ever grows within [BASE, END) of one job, so a
// worker that wakes late for a finished job cannot claim a chunk of the next one. DONE counts finished
// chunks; the caller waits for DONE to reach END.

// The WebAssembly API, typed here because the project's lib settings (ES2022, no DOM) do not declare it.
export interface WasmModule {
  readonly __wasmModule?: never;
}
export interface WasmMemory {
  readonly buffer: ArrayBufferLike;
  grow(pages: number): number;
}
export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
export interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => WasmInstance;
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  validate(bytes: Uint8Array): boolean;
}
export const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

export const KERNELS = [
  "gemmTiles",
  "gemmSmallM",
  "unaryKernel",
  "unaryBackwardKernel",
  "binaryKernel",
  "whereKernel",
  "copyKernel",
  "fillKernel",
  "reduceKernel",
  "argmaxKernel",
  "sumSquaresKernel",
  "adamwKernel",
  "softmaxKernel",
  "softmaxBackwardKernel",
  "normKernel",
  "normBackwardKernel",
  "normParamGradKernel",
  "gatherRowsKernel",
  "scatterAddRowsKernel",
  "crossEntropyKernel",
  "crossEntropyBackwardKernel",
  "ropeKernel",
  "attentionKernel",
  "attentionBackwardKernel",
  "sampleRowsKernel",
] as const;

export type KernelName = (typeof KERNELS)[number];
export type KernelFunction = (params: number, begin: number, end: number, scratch: number) => void;

// Int32 slots of the control block (each hot counter on its own 64-byte line).
export const GEN = 0;
export const KERNEL = 1;
export const PARAMS = 2;
export const TOTAL = 3;
export const PER_CHUNK = 4;
export const BASE = 5;
export const END = 6;
export const SCRATCH_BASE = 7;
export const SCRATCH_STRIDE = 8;
export const FAILED = 9;
export const COUNTER = 16;
export const DONE = 32;
export const READY = 48;
export const CONTROL_INTS = 64;

/** Counters are reset between jobs once they pass this, long before an int32 overflows. */
export const COUNTER_RESET = 1 << 30;

/** What a worker receives at start-up. */
export interface WorkerInit {
  module: WasmModule;
  memory: WasmMemory;
  control: SharedArrayBuffer;
  /** 1-based: scratch slot 0 belongs to the calling thread. */
  slot: number;
}

/**
 * Claims and runs chunks of the published job until none is left; returns false if a kernel threw (the
 * chunk is still counted as done so that the caller never waits forever).
 */
export function runChunks(
  control: Int32Array,
  kernels: readonly KernelFunction[],
  kernel: number,
  params: number,
  total: number,
  perChunk: number,
  base: number,
  end: number,
  scratch: number,
): boolean {
  const fn = kernels[kernel];
  let ok = true;
  for (;;) {
    const c = Atomics.load(control, COUNTER);
    if (c < base || c >= end) return ok;
    if (Atomics.compareExchange(control, COUNTER, c, c + 1) !== c) continue;
    const begin = (c - base) * perChunk;
    try {
      fn(params, begin, Math.min(total, begin + perChunk), scratch);
    } catch {
      ok = false;
      Atomics.store(control, FAILED, 1);
    }
    if (Atomics.add(control, DONE, 1) + 1 === end) Atomics.notify(control, DONE);
  }
}
