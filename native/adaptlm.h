// Shared declarations of the adaptlm native kernels: the thread pool, the GEMM entry points and the
// CPU-feature dispatch. Everything here is plain C11 with pthreads; ISA-specific code is compiled per
// function with target attributes so that one binary runs on any x86-64 CPU (and builds elsewhere).
#ifndef ADAPTLM_H
#define ADAPTLM_H

#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#define ADAPTLM_X86 1
#else
#define ADAPTLM_X86 0
#endif

/* ---------- CPU features ---------- */
enum { ISA_SCALAR = 0, ISA_AVX2 = 1, ISA_AVX512 = 2 };
/** The instruction set the kernels use: the best the CPU supports, lowered by ADAPTLM_ISA. */
int adaptlm_isa(void);
const char *adaptlm_isa_name(int isa);
/** The best instruction set this CPU supports. */
int adaptlm_best_isa(void);
/** Uses `isa` (or the best supported one below it) from now on; returns the one in effect. */
int adaptlm_force_isa(int isa);

/* ---------- thread pool ---------- */
/** A task runs with the index of the thread executing it (0 = the calling thread) and a task index. */
typedef void (*pool_task_fn)(void *ctx, int thread, int task);
/** Threads the pool currently runs with (the caller counts as one). */
int pool_threads(void);
/** Largest thread index + 1 that may ever run a task (for sizing per-thread scratch). */
int pool_max_threads(void);
/** Restarts the pool with n threads (n >= 1). */
void pool_set_threads(int n);
/** Runs fn(ctx, thread, t) for t in [0, ntasks) across the pool; returns when all are done. */
void pool_run(pool_task_fn fn, void *ctx, int ntasks);

/**
 * Runs body(ctx, start, end) over [0, n) split into contiguous chunks, in parallel only when n is at
 * least `serial_below` (small inputs run inline: dispatching costs more than it saves).
 */
typedef void (*range_fn)(void *ctx, long start, long end);
void parallel_for(long n, long serial_below, range_fn body, void *ctx);

/* ---------- GEMM ---------- */
typedef struct {
  int batch, m, n, k;
  const float *a; long strideA; int transA;
  const float *b; long strideB; int transB;
  float *c; long strideC;
  float alpha, beta;
  const float *bias; /* NULL, or n values added to every row of C (beta is then 0) */
} gemm_args;

/** The full batched GEMM of backend.ts, threaded over the pool. */
void gemm_run(const gemm_args *g);

/**
 * One single-threaded GEMM on strided operands, for kernels (attention) that already run inside a
 * pool task: C[i*ldc + j] = alpha * sum_p A(i,p) B(p,j) + beta * C, A(i,p) = a[i*rsa + p*csa],
 * B(p,j) = b[p*rsb + j*csb]. `thread` selects the packing scratch.
 */
void gemm_serial(int thread, int m, int n, int k, float alpha, const float *a, long rsa, long csa,
                 const float *b, long rsb, long csb, float beta, float *c, long ldc);

/**
 * Prepacked weights for inference (gemm.c): a weight packed once into the current ISA's B panels, then
 * multiplied by many activations. The packing is valid only for the ISA it was made under (same width).
 */
int gemm_packed_width(void);
/** Floats of a packed [n, k] weight (whole panels); the panels must start 64-byte aligned. */
long gemm_packed_size(int n, int k);
/** Packs W, an [n, k] weight when transposed (x W^T), else [k, n] (x W). */
void gemm_pack_weight(int n, int k, const float *w, int transposed, float *dst);
/** c [m, n] = a [m, k] (row-major) times the packed weight + beta c, threaded over the pool. */
void gemm_packed_run(int m, int n, int k, const float *a, const float *packed, float *c, float beta);

/** Scratch memory owned by one pool thread, grown on demand (never shrunk). Slots: 0 and 1 packed GEMM
    panels, 2 RoPE tables, 3 attention score gradients, 4 one call's partial sums (GEMM split over K, norm
    parameter gradients), taken by the calling thread and free again when the call returns. */
float *thread_scratch(int thread, int slot, size_t floats);

#endif
