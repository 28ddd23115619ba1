// GEMM suite: C[m,n] = A[m,k] B[k,n] at the BERT-base shapes (m x k x n = 512x768x768, 512x768x3072) and a
// small one (64x64x64), on 1 and 2 threads, for every backend that loads here, against PyTorch and NumPy
// timed by /usr/bin/python3 in the same run. PyTorch's time with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset
// is the ratio's reference; with the variables as set in the environment it is shown alongside.

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Backend, GemmArgs } from "../../src/backend/backend.js";
import { loadNativeBackend, type NativeBackend } from "../../src/backend/native.js";
import { availableBackends } from "../../src/backend/registry.js";
import { createWasmBackend } from "../../src/backend/wasm.js";
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
}

/** Best and median of repeated runs after a warm-up; repeats until ~budgetMs have passed (at least 5 runs). */
function time(fn: () => void, budgetMs: number): Timing {
  fn();
  fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 5 || (performance.now() - start < budgetMs && times.length < 2000)) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { best: times[0], median: times[Math.floor(times.length / 2)] };
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

interface PythonTiming {
  lib: "torch" | "numpy";
  version: string;
  m: number;
  n: number;
  k: number;
  threads: number;
  best_ms: number;
  median_ms: number;
}

interface PythonRun {
  timings: PythonTiming[];
  missing: Map<string, string>;
  blas: string[];
  error: string | null;
}

function runPython(script: string, threads: number, unsetOpenblas: boolean): PythonRun {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"])
    env[name] = String(threads);
  if (unsetOpenblas) for (const name of OPENBLAS_VARIABLES) delete env[name];
  const shapes = SHAPES.map((s) => `${s.m},${s.n},${s.k}`);
  const result = spawnSync(PYTHON, [script, String(threads), ...shapes], {
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

function lookup(run: PythonRun | null, lib: string, s: Shape, threads: number): PythonTiming | null {
  return (
    run?.timings.find(
      (t) => t.lib === lib && t.m === s.m && t.n === s.n && t.k === s.k && t.threads === threads,
    ) ?? null
  );
}

function describeBlas(paths: string[]): string {
  if (paths.length === 0) return "no BLAS library mapped (or /proc unavailable)";
  return paths
    .map((p) => {
      if (/openblas/i.test(p)) return `${p} (OpenBLAS)`;
      if (/mkl/i.test(p)) return `${p} (MKL)`;
      if (/blis/i.test(p)) return `${p} (BLIS)`;
      if (/\/blas\/libblas\.so/.test(p))
        return `${p} (the reference netlib BLAS: unoptimised; OPENBLAS_* have no effect)`;
      return p;
    })
    .join(", ");
}

async function run(context: BenchContext): Promise<void> {
  const budgetMs = context.quick ? 150 : 800;
  const backends = backendsToMeasure();
  context.note(`backends: ${backends.map((b) => b.name).join(", ")}`);
  const native = loadNativeBackend();
  if (native) context.note(`native GEMM kernel: ${native.isa} (best this CPU supports: ${native.bestIsa})`);
  else context.note("native backend not built: no native rows");

  // Our backends first, alone on the CPU; then the Python references.
  const ours = new Map<string, Timing>();
  for (const backend of backends) {
    for (const threads of THREADS) {
      const variant = withThreads(backend, threads);
      if (!variant) continue;
      for (const s of SHAPES) {
        // the JS reference would take seconds per large product: only the small one
        if (backend.name === "reference" && s.m * s.n * s.k > 64 * 64 * 64) continue;
        ours.set(`${backend.name}|${shapeName(s)}|${threads}`, timeGemm(variant, s, budgetMs));
      }
    }
    if (backend.name === "native") (backend as NativeBackend).setThreads(THREADS[THREADS.length - 1]);
  }

  const script = findPythonScript();
  const openblasSet = OPENBLAS_VARIABLES.filter((v) => process.env[v] !== undefined);
  const unset = new Map<number, PythonRun>();
  const asSet = new Map<number, PythonRun>();
  if (!existsSync(PYTHON) || script === null) {
    context.note(
      `PyTorch/NumPy references ABSENT: ${!existsSync(PYTHON) ? `${PYTHON} not found` : "bench/python/gemm_ref.py not found"}`,
    );
  } else {
    for (const threads of THREADS) {
      unset.set(threads, runPython(script, threads, true));
      if (openblasSet.length > 0) asSet.set(threads, runPython(script, threads, false));
    }
    const first = unset.get(THREADS[0])!;
    if (first.error) context.note(`python reference run failed: ${first.error}`);
    for (const [lib, why] of first.missing) context.note(`${lib} ABSENT in ${PYTHON}: ${why}`);
    const versions = [...new Set(first.timings.map((t) => `${t.lib} ${t.version}`))];
    if (versions.length > 0)
      context.note(`references: ${versions.join(", ")}; BLAS: ${describeBlas(first.blas)}`);
    context.note(
      openblasSet.length > 0
        ? `torch_env_ms: PyTorch with ${openblasSet.map((v) => `${v}=${process.env[v]}`).join(" ")} as set; ref_ms: with them unset`
        : `${OPENBLAS_VARIABLES.join(" and ")} are not set in this environment, so the "as set" and "unset" runs are the same run (ref_ms)`,
    );
  }

  for (const backend of backends) {
    for (const s of SHAPES) {
      for (const threads of THREADS) {
        const t = ours.get(`${backend.name}|${shapeName(s)}|${threads}`);
        if (!t) continue;
        const torch = lookup(unset.get(threads) ?? null, "torch", s, threads);
        const torchEnv = lookup(asSet.get(threads) ?? null, "torch", s, threads);
        const numpy = lookup(unset.get(threads) ?? null, "numpy", s, threads);
        context.row({
          name: `${backend.name} ${shapeName(s)} ${threads}T vs torch`,
          ours_ms: t.best,
          ref_ms: torch?.best_ms ?? null,
          detail: {
            gflops: gflops(s, t.best),
            median_ms: t.median,
            torch_gflops: gflops(s, torch?.best_ms ?? null),
            torch_env_ms: torchEnv?.best_ms ?? null,
            numpy_ms: numpy?.best_ms ?? null,
          },
        });
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
