"""GEMM timings of PyTorch and NumPy for adaptlm's benchmark (bench/suites/gemm.ts runs this).

Usage: python3 gemm_ref.py THREADS M,N,K [M,N,K ...]
Prints one JSON object per line: {"lib", "m", "n", "k", "threads", "best_ms", "median_ms", "reps", "cpu_ms"}
(cpu_ms: least CPU time of the calling thread, meaningful on 1 thread: robust to a busy machine), plus
{"lib": ..., "missing": reason} for a library that does not import, and one {"blas": ...} line naming the
BLAS libraries this process mapped (so the report can say what PyTorch and NumPy actually ran on).
Thread counts must also be set through OMP/OPENBLAS/MKL_NUM_THREADS by the caller: BLAS reads them at load.
"""

import json
import os
import statistics
import sys
import time


def measure(fn, flops):
    fn()  # warm-up (first-touch, thread start)
    fn()
    budget = 0.6 if flops > 1e8 else 0.3
    times = []
    cpu = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < budget and len(times) < 200):
        c0 = time.thread_time()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    return min(times) * 1e3, statistics.median(times) * 1e3, len(times), min(cpu) * 1e3


def blas_libraries():
    names = set()
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                base = os.path.basename(path).lower()
                if any(tag in base for tag in ("blas", "mkl", "blis", "lapack", "accelerate")):
                    names.add(os.path.realpath(path))
    except OSError:
        pass
    return sorted(names)


def main():
    threads = int(sys.argv[1])
    shapes = [tuple(int(v) for v in s.split(",")) for s in sys.argv[2:]]
    try:
        import numpy as np
    except Exception as error:  # noqa: BLE001 - any import failure means "absent"
        print(json.dumps({"lib": "numpy", "missing": f"{type(error).__name__}: {error}"}))
        np = None
    try:
        import torch

        torch.set_num_threads(threads)
    except Exception as error:  # noqa: BLE001
        print(json.dumps({"lib": "torch", "missing": f"{type(error).__name__}: {error}"}))
        torch = None
    for m, n, k in shapes:
        flops = 2.0 * m * n * k
        if torch is not None:
            a = torch.randn(m, k, dtype=torch.float32)
            b = torch.randn(k, n, dtype=torch.float32)
            c = torch.empty(m, n, dtype=torch.float32)
            best, median, reps, cpu = measure(lambda: torch.mm(a, b, out=c), flops)
            row = {"lib": "torch", "version": torch.__version__, "m": m, "n": n, "k": k, "threads": threads}
            print(json.dumps({**row, "best_ms": best, "median_ms": median, "reps": reps, "cpu_ms": cpu}), flush=True)
        if np is not None:
            rng = np.random.default_rng(0)
            a = rng.standard_normal((m, k), dtype=np.float32)
            b = rng.standard_normal((k, n), dtype=np.float32)
            c = np.empty((m, n), dtype=np.float32)
            best, median, reps, cpu = measure(lambda: np.matmul(a, b, out=c), flops)
            row = {"lib": "numpy", "version": np.__version__, "m": m, "n": n, "k": k, "threads": threads}
            print(json.dumps({**row, "best_ms": best, "median_ms": median, "reps": reps, "cpu_ms": cpu}), flush=True)
    print(json.dumps({"blas": blas_libraries()}))


if __name__ == "__main__":
    main()
