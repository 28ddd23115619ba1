// GEMM suite: C[m,n] = A[m,k] B[k,n] at the BERT-base shapes (m x k x n = 512x768x768, 512x768x3072) and a
// small one (64x64x64), on 1 and 2 threads, for every backend that loads here, against PyTorch and NumPy
// timed by /usr/bin/python3 in the same run (and NumPy of the `python3` on PATH when that is another
// interpreter: pip's NumPy wheels bring OpenBLAS, Debian's use whichever libblas is installed). Reference
// times with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset give the ratio; with them as set in the environment
// they are shown alongside (ref_env_ms).

import { spawnSync } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Backend, GemmArgs } from "../../src/backend/backend.js";
import { loadNativeBackend, type NativeBackend } from "../../src/backend/native.js";
import { availableBackends } from "../../src/backend/registry.js";
import { createWasmBackend, wasmKernelBuild, wasmMultiplyAddPeak } from "../../src/backend/wasm.js";
import type { BenchContext, BenchSuite } from "../main.js";

type Shape = { m: number; k: number; n: number };

const SHAPES: Shape[] = [
  { m: 64, k: 64, n: 64 },
  { m: 512, k: 768, n: 768 },
  { m: 512, k: 768, n: 3072 },
];
const THREADS = [1, 2];
const PYTHON = "/usr/bin/python3";
const OPENBLAS_VARIABLES = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"];

const shapeName = (s: Shape): string => `${s.m}x${s.k}x${s.n}`;
const gflops = (s: Shape, ms: number | null): number | null =>
  ms === null ? null : (2 * s.m * s.n * s.k) / ms / 1e6;

interface Timing {
  best: number;
  median: number;
  /** Least CPU time (ms) of this process per run: on one thread, the run time a busy machine cannot inflate. */
  cpu: number;
}

/** Best and median of repeated runs after a warm-up; repeats until ~budgetMs have passed (at least 5 runs). */
function time(fn: () => void, budgetMs: number): Timing {
  fn();
  fn();
  const times: number[] = [];
  let cpu = Number.POSITIVE_INFINITY;
  const start = performance.now();
  while (times.length < 5 || (performance.now() - start < budgetMs && times.length < 2000)) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
    const used = process.cpuUsage(c0);
    cpu = Math.min(cpu, (used.user + used.system) / 1000);
  }
  times.sort((a, b) => a - b);
  return { best: times[0], median: times[Math.floor(times.length / 2)], cpu };
}

function timeGemm(backend: Backend, s: Shape, budgetMs: number): Timing {
  const a = backend.alloc("float32", s.m * s.k);
  const b = backend.alloc("float32", s.k * s.n);
  const c = backend.alloc("float32", s.m * s.n);
  for (let i = 0; i < a.length; i++) a[i] = Math.sin(i) * 0.5;
  for (let i = 0; i < b.length; i++) b[i] = Math.cos(i) * 0.5;
  const args: GemmArgs = {
    batch: 1,
    m: s.m,
    n: s.n,
    k: s.k,
    a,
    aOffset: 0,
    strideA: 0,
    transA: false,
    b,
    bOffset: 0,
    strideB: 0,
    transB: false,
    c,
    cOffset: 0,
    strideC: 0,
    alpha: 1,
    beta: 0,
  };
  const result = time(() => backend.gemm(args), budgetMs);
  backend.release(a);
  backend.release(b);
  backend.release(c);
  return result;
}

/** The backend running on `threads` threads, or null when it cannot (the reference has one thread). */
function withThreads(backend: Backend, threads: number): Backend | null {
  if (backend.name === "native") {
    (backend as NativeBackend).setThreads(threads);
    return backend;
  }
  if (backend.name === "wasm") return createWasmBackend({ threads });
  return threads === 1 ? backend : null;
}

/** Steps of the register-only loop per timed run: 48 multiply-adds (96 flops) each, ~10 ms at 45 GFLOP/s. */
const PEAK_ITERATIONS = 5_000_000;

/**
 * GFLOP/s of the wasm kernels' register-only multiply-add loop on this thread (best of `runs`): the most any
 * wasm GEMM can reach here at the current clock.
 */
function wasmPeakGflops(runs: number): number | null {
  const peak = wasmMultiplyAddPeak();
  if (!peak) return null;
  peak(1000);
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    peak(PEAK_ITERATIONS);
    best = Math.min(best, performance.now() - t0);
  }
  return (PEAK_ITERATIONS * 96) / best / 1e6;
}

function backendsToMeasure(): Backend[] {
  const list = availableBackends();
  const native = loadNativeBackend();
  if (native && !list.some((b) => b.name === "native")) list.unshift(native);
  return list;
}

function findPythonScript(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 5; up++) {
    const candidate = join(dir, "bench", "python", "gemm_ref.py");
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return null;
}

/** Python interpreters to time: Debian's (PyTorch, NumPy) and, when it differs, the `python3` on PATH. */
function interpreters(): string[] {
  const list: string[] = [];
  if (existsSync(PYTHON)) list.push(PYTHON);
  const found = spawnSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" });
  const onPath = found.status === 0 ? found.stdout.trim() : "";
  if (onPath && existsSync(onPath) && (list.length === 0 || realpathSync(onPath) !== realpathSync(PYTHON))) {
    list.push(onPath);
  }
  return list;
}

interface PythonTiming {
  lib: "torch" | "numpy";
  version: string;
  m: number;
  n: number;
  k: number;
  threads: number;
  best_ms: number;
  median_ms: number;
  cpu_ms: number;
}

interface PythonRun {
  timings: PythonTiming[];
  missing: Map<string, string>;
  blas: string[];
  error: string | null;
}

function runPython(interpreter: string, script: string, threads: number, unsetOpenblas: boolean): PythonRun {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"])
    env[name] = String(threads);
  if (unsetOpenblas) for (const name of OPENBLAS_VARIABLES) delete env[name];
  const shapes = SHAPES.map((s) => `${s.m},${s.n},${s.k}`);
  const result = spawnSync(interpreter, [script, String(threads), ...shapes], {
    env,
    encoding: "utf8",
    timeout: 15 * 60 * 1000,
  });
  const run: PythonRun = { timings: [], missing: new Map(), blas: [], error: null };
  if (result.status !== 0) {
    run.error = result.error?.message ?? (result.stderr.trim().split("\n").pop() || `exit ${result.status}`);
  }
  for (const line of (result.stdout ?? "").split("\n")) {
    if (!line.trim()) continue;
    const record = JSON.parse(line);
    if (record.missing) run.missing.set(record.lib, record.missing);
    else if (record.blas) run.blas = record.blas;
    else run.timings.push(record as PythonTiming);
  }
  return run;
}

function blasKind(paths: string[]): string {
  const joined = paths.join(" ");
  if (/openblas/i.test(joined)) return "OpenBLAS";
  if (/mkl/i.test(joined)) return "MKL";
  if (/blis/i.test(joined)) return "BLIS";
  if (/\/blas\/libblas\.so/.test(joined)) return "netlib reference BLAS";
  return paths.length === 0 ? "unknown BLAS" : paths.map((p) => basename(p)).join("+");
}

interface Reference {
  interpreter: string;
  lib: "torch" | "numpy";
  label: string;
  /** threads -> run with OPENBLAS_* unset, and as set in the environment (only when any is set) */
  unset: Map<number, PythonRun>;
  asSet: Map<number, PythonRun>;
}

/** Merges two runs of the same references, keeping each measurement's faster run. */
function keepBest(previous: PythonRun | undefined, next: PythonRun): PythonRun {
  if (!previous) return next;
  const timings = previous.timings.map((old) => {
    const fresh = next.timings.find(
      (t) =>
        t.lib === old.lib && t.m === old.m && t.n === old.n && t.k === old.k && t.threads === old.threads,
    );
    if (!fresh) return old;
    const better = fresh.best_ms < old.best_ms ? fresh : old;
    return { ...better, cpu_ms: Math.min(fresh.cpu_ms, old.cpu_ms) };
  });
  return { ...previous, timings, error: previous.error ?? next.error };
}

function lookup(run: PythonRun | undefined, lib: string, s: Shape, threads: number): PythonTiming | null {
  return (
    run?.timings.find(
      (t) => t.lib === lib && t.m === s.m && t.n === s.n && t.k === s.k && t.threads === threads,
    ) ?? null
  );
}

async function run(context: BenchContext): Promise<void> {
  const budgetMs = context.quick ? 150 : 800;
  const backends = backendsToMeasure();
  context.note(`backends: ${backends.map((b) => b.name).join(", ")}`);
  const native = loadNativeBackend();
  if (native) context.note(`native GEMM kernel: ${native.isa} (best this CPU supports: ${native.bestIsa})`);
  else context.note("native backend not built: no native rows");

  // Our backends alone on the CPU, then the Python references; the whole sequence runs `rounds` times and
  // each measurement keeps its best round, so that a burst of load on a shared machine does not decide.
  const rounds = context.quick ? 1 : 2;
  const ours = new Map<string, Timing>();
  let wasmPeak: number | null = null;
  const nativeDefaultThreads = native?.threads ?? 1;
  const script = findPythonScript();
  const openblasSet = OPENBLAS_VARIABLES.filter((v) => process.env[v] !== undefined);
  const pythons = script === null ? [] : interpreters();
  const pythonRuns = new Map<string, PythonRun>();
  const runKey = (interpreter: string, threads: number, unset: boolean) =>
    `${interpreter}|${threads}|${unset}`;
  for (let round = 0; round < rounds; round++) {
    for (const backend of backends) {
      for (const threads of THREADS) {
        const variant = withThreads(backend, threads);
        if (!variant) continue;
        for (const s of SHAPES) {
          // the JS reference would take seconds per large product: only the small one
          if (backend.name === "reference" && s.m * s.n * s.k > 64 * 64 * 64) continue;
          const key = `${backend.name}|${shapeName(s)}|${threads}`;
          const timing = timeGemm(variant, s, budgetMs);
          const previous = ours.get(key);
          if (!previous) ours.set(key, timing);
          else {
            const better = timing.best < previous.best ? timing : previous;
            ours.set(key, { ...better, cpu: Math.min(timing.cpu, previous.cpu) });
          }
        }
      }
      if (backend.name === "native") (backend as NativeBackend).setThreads(nativeDefaultThreads);
      if (backend.name === "wasm") {
        const peak = wasmPeakGflops(context.quick ? 3 : 9);
        if (peak !== null) wasmPeak = Math.max(wasmPeak ?? 0, peak);
      }
    }
    for (const interpreter of pythons) {
      for (const threads of THREADS) {
        for (const unset of openblasSet.length > 0 ? [true, false] : [true]) {
          const key = runKey(interpreter, threads, unset);
          pythonRuns.set(key, keepBest(pythonRuns.get(key), runPython(interpreter, script!, threads, unset)));
        }
      }
    }
  }

  const references: Reference[] = [];
  if (!existsSync(PYTHON)) context.note(`PyTorch/NumPy of ${PYTHON} ABSENT: ${PYTHON} not found`);
  if (script === null) context.note("Python references ABSENT: bench/python/gemm_ref.py not found");
  for (const interpreter of pythons) {
    const unset = new Map<number, PythonRun>();
    const asSet = new Map<number, PythonRun>();
    for (const threads of THREADS) {
      unset.set(threads, pythonRuns.get(runKey(interpreter, threads, true))!);
      const withEnv = pythonRuns.get(runKey(interpreter, threads, false));
      if (withEnv) asSet.set(threads, withEnv);
    }
    const first = unset.get(THREADS[0])!;
    if (first.error) context.note(`${interpreter}: reference run failed: ${first.error}`);
    for (const [lib, why] of first.missing) context.note(`${lib} ABSENT in ${interpreter}: ${why}`);
    const blas = blasKind(first.blas);
    for (const lib of ["torch", "numpy"] as const) {
      const sample = first.timings.find((t) => t.lib === lib);
      if (!sample) continue;
      const label = `${lib} ${sample.version} (${blas})`;
      context.note(`${label} via ${interpreter}; BLAS mapped: ${first.blas.join(", ") || "none seen"}`);
      references.push({ interpreter, lib, label, unset, asSet });
    }
  }
  if (references.length > 0) {
    context.note(
      openblasSet.length > 0
        ? `ref_ms: references with ${OPENBLAS_VARIABLES.join(" and ")} unset; ref_env_ms: with ${openblasSet.map((v) => `${v}=${process.env[v]}`).join(" ")} as set here`
        : `${OPENBLAS_VARIABLES.join(" and ")} are not set in this environment: the "as set" and "unset" runs are the same run (ref_ms)`,
    );
  }
  if (!references.some((r) => r.lib === "torch")) context.note("PyTorch ABSENT: no torch rows");
  if (wasmPeak !== null) {
    context.note(
      `wasm (${wasmKernelBuild()} build) multiply-add peak: ${wasmPeak.toFixed(1)} GFLOP/s on one thread (a register-only f32x4 loop, no loads; best of each round); of_peak: a wasm row's GFLOP/s per thread as a share of it`,
    );
  }
  // The ratio target is against PyTorch; every backend gets a torch row, native also gets one per NumPy.
  const torch = references.find((r) => r.lib === "torch");

  for (const backend of backends) {
    for (const s of SHAPES) {
      for (const threads of THREADS) {
        const t = ours.get(`${backend.name}|${shapeName(s)}|${threads}`);
        if (!t) continue;
        const against = backend.name === "native" ? references : torch ? [torch] : [];
        if (against.length === 0) {
          context.row({
            name: `${backend.name} ${shapeName(s)} ${threads}T`,
            ours_ms: t.best,
            ref_ms: null,
            detail: { gflops: gflops(s, t.best), median_ms: t.median },
          });
        }
        for (const reference of against) {
          const unsetTiming = lookup(reference.unset.get(threads), reference.lib, s, threads);
          const envTiming = lookup(reference.asSet.get(threads), reference.lib, s, threads);
          context.row({
            name: `${backend.name} ${shapeName(s)} ${threads}T vs ${reference.label}`,
            ours_ms: t.best,
            ref_ms: unsetTiming?.best_ms ?? null,
            detail: {
              gflops: gflops(s, t.best),
              median_ms: t.median,
              ...(backend.name === "wasm" && wasmPeak !== null
                ? { of_peak: (gflops(s, t.best) ?? 0) / threads / wasmPeak }
                : {}),
              ref_gflops: gflops(s, unsetTiming?.best_ms ?? null),
              ref_median_ms: unsetTiming?.median_ms ?? null,
              ref_env_ms: envTiming?.best_ms ?? null,
              // CPU time is comparable on one thread only (elsewhere it sums the threads)
              cpu_ms: threads === 1 && s.m >= 512 ? t.cpu : null,
              ref_cpu_ms: threads === 1 && s.m >= 512 ? (unsetTiming?.cpu_ms ?? null) : null,
            },
          });
        }
      }
      const one = ours.get(`${backend.name}|${shapeName(s)}|1`);
      const two = ours.get(`${backend.name}|${shapeName(s)}|2`);
      if (one && two) {
        context.row({
          name: `${backend.name} ${shapeName(s)} 2T vs own 1T`,
          ours_ms: two.best,
          ref_ms: one.best,
          detail: { gflops: gflops(s, two.best), median_ms: two.median },
        });
      }
    }
  }
}

export const gemmSuite: BenchSuite = {
  name: "gemm",
  description: "C = A B, m x k x n; ratio = reference time / ours (above 1: we are faster); best of runs",
  run,
};
