// Probe of the wasm backend's GEMM: GFLOP/s at the two BERT-base shapes (m x k x n = 512x768x768 and
// 512x768x3072), plain and with B transposed (a Linear layer's forward), on 1 and 2 threads (or the thread
// counts given as arguments), after a warm-up. Machines here are shared, so each line gives the best and the
// median wall-clock rate and the median rate per CPU-second (flops / process CPU time: one busy thread's rate,
// however many threads ran), which a busy machine deflates far less than wall-clock rates. Compare kernels in
// the same session all the same: a loaded core also runs its floating-point work slower.
//
//   node dist/bench/suites/wasm-gemm-probe.js [threads ...]
//   node dist/bench/suites/wasm-gemm-probe.js --sweep [threads]   (tries GEMM blockings, best first)

import { availableParallelism, loadavg } from "node:os";
import type { Backend } from "../../src/backend/backend.js";
import { createWasmBackend, type GemmTuning } from "../../src/backend/wasm.js";

const shapes: [number, number, number][] = [
  [512, 768, 768],
  [512, 768, 3072],
];

interface Rates {
  /** GFLOP/s of the fastest run (wall clock) */
  best: number;
  /** GFLOP/s of the median run (wall clock) */
  median: number;
  /** median GFLOP per CPU-second of the process: the rate of one busy thread, however many ran */
  cpuPerThread: number;
}

function probe(
  backend: Backend,
  m: number,
  k: number,
  n: number,
  transB: boolean,
  warmMs = 300,
  budget = 2e10,
): Rates {
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
  const warmUntil = performance.now() + warmMs;
  while (performance.now() < warmUntil) backend.gemm(args);
  const wall: number[] = [];
  const cpu: number[] = [];
  const reps = Math.max(5, Math.ceil(budget / flops));
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    backend.gemm(args);
    wall.push(performance.now() - t0);
    const used = process.cpuUsage(c0);
    cpu.push((used.user + used.system) / 1000);
  }
  backend.release(a);
  backend.release(b);
  backend.release(c);
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  return {
    best: flops / Math.min(...wall) / 1e6,
    median: flops / median(wall) / 1e6,
    cpuPerThread: flops / median(cpu) / 1e6,
  };
}

function sweep(threads: number): void {
  const results: { tuning: GemmTuning; gflops: number[] }[] = [];
  for (const kc of [128, 256, 384, 512]) {
    for (const [tileM, tileN] of [
      [64, 256],
      [128, 128],
      [128, 256],
      [256, 256],
      [128, 512],
      [256, 512],
    ]) {
      for (const aOuter of [false, true]) {
        const tuning: GemmTuning = { kc, tileM, tileN, aOuter };
        const backend = createWasmBackend({ threads, gemmTuning: tuning });
        if (!backend) throw new Error("wasm backend unavailable: run `npm run build:wasm`");
        const gflops: number[] = [];
        for (const [m, k, n] of shapes) {
          for (const transB of [false, true]) gflops.push(probe(backend, m, k, n, transB, 60, 3e9).best);
        }
        results.push({ tuning, gflops });
      }
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  results.sort((x, y) => mean(y.gflops) - mean(x.gflops));
  console.log(`sweep, ${threads} thread(s): mean | 768 | 768 B^T | 3072 | 3072 B^T GFLOP/s`);
  for (const r of results) {
    const t = r.tuning;
    console.log(
      `kc ${t.kc} tile ${t.tileM}x${t.tileN} ${t.aOuter ? "A-outer" : "B-outer"}: ${mean(r.gflops).toFixed(1)} | ${r.gflops.map((g) => g.toFixed(1)).join(" | ")}`,
    );
  }
}

const args = process.argv.slice(2);
if (args[0] === "--sweep") {
  sweep(Number(args[1] ?? 1));
} else {
  const threadCounts = args.map(Number).filter((t) => t >= 1);
  const load = loadavg().map((x) => x.toFixed(2));
  console.log(`${availableParallelism()} cores, load average ${load.join(" ")}`);
  for (const threads of threadCounts.length > 0 ? threadCounts : [1, 2]) {
    const backend = createWasmBackend({ threads });
    if (!backend) {
      console.error("wasm backend unavailable: run `npm run build:wasm`");
      process.exit(1);
    }
    // one discarded pass first: the first products of a process run before V8 has tiered the kernels up
    for (const [m, k, n] of shapes)
      for (const transB of [false, true]) probe(backend, m, k, n, transB, 200, 1e9);
    for (const [m, k, n] of shapes) {
      for (const transB of [false, true]) {
        const r = probe(backend, m, k, n, transB);
        console.log(
          `wasm gemm ${m}x${k}x${n}${transB ? " (B^T)" : "      "}  threads ${backend.threads}: best ${r.best.toFixed(1)}, median ${r.median.toFixed(1)} GFLOP/s; CPU time: ${r.cpuPerThread.toFixed(1)} GFLOP per CPU-second`,
        );
      }
    }
  }
}
