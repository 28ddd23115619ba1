// Probe of the wasm backend's GEMM: GFLOP/s at the two BERT-base shapes (m x k x n = 512x768x768 and
// 512x768x3072), plain and with B transposed (a Linear layer's forward), on 1 and 2 threads (or the thread
// counts given as arguments). Best of several runs after a warm-up, since machines here are shared.
//
//   node dist/bench/suites/wasm-gemm-probe.js [threads ...]

import type { Backend } from "../../src/backend/backend.js";
import { createWasmBackend } from "../../src/backend/wasm.js";

const shapes: [number, number, number][] = [
  [512, 768, 768],
  [512, 768, 3072],
];

function probe(backend: Backend, m: number, k: number, n: number, transB: boolean): number {
  const a = backend.alloc("float32", m * k);
  const b = backend.alloc("float32", k * n);
  const c = backend.alloc("float32", m * n);
  for (let i = 0; i < a.length; i++) a[i] = Math.sin(i) * 0.5;
  for (let i = 0; i < b.length; i++) b[i] = Math.cos(i) * 0.5;
  const args = {
    batch: 1,
    m,
    n,
    k,
    a,
    aOffset: 0,
    strideA: 0,
    transA: false,
    b,
    bOffset: 0,
    strideB: 0,
    transB,
    c,
    cOffset: 0,
    strideC: 0,
    alpha: 1,
    beta: 0,
  };
  const flops = 2 * m * n * k;
  // warm-up: lets V8 tier the kernels up to optimised code on every thread
  const warmUntil = performance.now() + 300;
  while (performance.now() < warmUntil) backend.gemm(args);
  let best = Number.POSITIVE_INFINITY;
  const reps = Math.max(5, Math.ceil(2e10 / flops));
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    backend.gemm(args);
    best = Math.min(best, performance.now() - t0);
  }
  backend.release(a);
  backend.release(b);
  backend.release(c);
  return flops / best / 1e6;
}

const threadCounts = process.argv
  .slice(2)
  .map(Number)
  .filter((t) => t >= 1);
for (const threads of threadCounts.length > 0 ? threadCounts : [1, 2]) {
  const backend = createWasmBackend({ threads });
  if (!backend) {
    console.error("wasm backend unavailable: run `npm run build:wasm`");
    process.exit(1);
  }
  for (const [m, k, n] of shapes) {
    for (const transB of [false, true]) {
      const gflops = probe(backend, m, k, n, transB);
      console.log(
        `wasm gemm ${m}x${k}x${n}${transB ? " (B^T)" : "      "}  threads ${backend.threads}: ${gflops.toFixed(1)} GFLOP/s`,
      );
    }
  }
}
