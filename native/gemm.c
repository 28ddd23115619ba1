// GEMM: BLIS-style cache blocking (NC columns of B in L3, KC x NC packed B panel, MC x KC packed A block in
// L2) around register-blocked micro-kernels: 14x32 for AVX-512, 6x16 for AVX2+FMA, 4x8 portable C. The
// kernel is chosen once at run time from CPUID. Tiny products skip packing altogether.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adaptlm.h"

#if ADAPTLM_X86
#include <immintrin.h>
#endif

/* C (mr x nr of it) = A B over kc steps + beta C, or + bias[0, nr) instead of beta C when bias is given */
typedef void (*ukernel_fn)(long kc, const float *A, const float *B, float *C, long ldc, float beta,
                           const float *bias, int mr, int nr);

typedef struct {
  int mr, nr, mc, kc, nc;
  ukernel_fn kernel;
} gemm_config;

/* Writes a full mr x nr accumulator tile (row stride ld) to C: C = acc + beta * C (beta 0: overwrite), or
   C = acc + bias (bias[0, nr), the same for every row) when bias is given: a Linear's first K block, whose
   output needs no read of C. */
static void store_tile(const float *acc, int ld, float *C, long ldc, float beta, const float *bias, int mr,
                       int nr) {
  for (int i = 0; i < mr; i++) {
    float *c = C + i * ldc;
    const float *t = acc + i * ld;
    if (bias)
      for (int j = 0; j < nr; j++) c[j] = t[j] + bias[j];
    else if (beta == 0.0f)
      for (int j = 0; j < nr; j++) c[j] = t[j];
    else if (beta == 1.0f)
      for (int j = 0; j < nr; j++) c[j] += t[j];
    else
      for (int j = 0; j < nr; j++) c[j] = t[j] + beta * c[j];
  }
}

/* C rows [0, rows) x columns [0, cols) = bias[0, cols): a Linear's bias, for the unblocked paths to add into. */
static void fill_bias(float *c, long ldc, const float *bias, int rows, int cols) {
  for (int i = 0; i < rows; i++) memcpy(c + (long)i * ldc, bias, (size_t)cols * sizeof(float));
}

/* ---------- portable micro-kernel ---------- */
#define SC_MR 4
#define SC_NR 8
static void kernel_scalar(long kc, const float *A, const float *B, float *C, long ldc, float beta,
                          const float *bias, int mr, int nr) {
  float acc[SC_MR][SC_NR];
  memset(acc, 0, sizeof acc);
  for (long p = 0; p < kc; p++) {
    for (int i = 0; i < SC_MR; i++) {
      float a = A[p * SC_MR + i];
      for (int j = 0; j < SC_NR; j++) acc[i][j] += a * B[p * SC_NR + j];
    }
  }
  store_tile(&acc[0][0], SC_NR, C, ldc, beta, bias, mr, nr);
}

#if ADAPTLM_X86
/* ---------- AVX2 + FMA: 6 x 16 ---------- */
#define A2_MR 6
#define A2_NR 16

__attribute__((target("avx2,fma"))) static inline void store_row_avx2(float *c, __m256 lo, __m256 hi,
                                                                       float beta, const float *bias) {
  if (bias) {
    _mm256_storeu_ps(c, _mm256_add_ps(lo, _mm256_loadu_ps(bias)));
    _mm256_storeu_ps(c + 8, _mm256_add_ps(hi, _mm256_loadu_ps(bias + 8)));
  } else if (beta == 0.0f) {
    _mm256_storeu_ps(c, lo);
    _mm256_storeu_ps(c + 8, hi);
  } else if (beta == 1.0f) {
    _mm256_storeu_ps(c, _mm256_add_ps(lo, _mm256_loadu_ps(c)));
    _mm256_storeu_ps(c + 8, _mm256_add_ps(hi, _mm256_loadu_ps(c + 8)));
  } else {
    __m256 vb = _mm256_set1_ps(beta);
    _mm256_storeu_ps(c, _mm256_fmadd_ps(vb, _mm256_loadu_ps(c), lo));
    _mm256_storeu_ps(c + 8, _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + 8), hi));
  }
}

__attribute__((target("avx2,fma"))) static void kernel_avx2(long kc, const float *A, const float *B, float *C,
                                                            long ldc, float beta, const float *bias, int mr,
                                                            int nr) {
  float tile[A2_MR * A2_NR] __attribute__((aligned(32)));
  long k4 = kc >> 2, k1 = kc & 3;
  for (int i = 0; i < mr; i++) {
    _mm_prefetch((const char *)(C + i * ldc), _MM_HINT_T0);
    _mm_prefetch((const char *)(C + i * ldc + 15), _MM_HINT_T0);
  }
  /* The loop is assembly with the 12 accumulators in ymm0-11: GCC spills some of them when it schedules
     the unrolled intrinsics itself. */
  __asm__ __volatile__(
      "vxorps %%ymm0, %%ymm0, %%ymm0\n\t"
      "vxorps %%ymm1, %%ymm1, %%ymm1\n\t"
      "vxorps %%ymm2, %%ymm2, %%ymm2\n\t"
      "vxorps %%ymm3, %%ymm3, %%ymm3\n\t"
      "vxorps %%ymm4, %%ymm4, %%ymm4\n\t"
      "vxorps %%ymm5, %%ymm5, %%ymm5\n\t"
      "vxorps %%ymm6, %%ymm6, %%ymm6\n\t"
      "vxorps %%ymm7, %%ymm7, %%ymm7\n\t"
      "vxorps %%ymm8, %%ymm8, %%ymm8\n\t"
      "vxorps %%ymm9, %%ymm9, %%ymm9\n\t"
      "vxorps %%ymm10, %%ymm10, %%ymm10\n\t"
      "vxorps %%ymm11, %%ymm11, %%ymm11\n\t"
      "testq %[k4], %[k4]\n\t"
      "jz 2f\n\t"
      "1:\n\t"
      "prefetcht0 512(%[B])\n\t"
      "vmovaps 0(%[B]), %%ymm12\n\t"
      "vmovaps 32(%[B]), %%ymm13\n\t"
      "vbroadcastss 0(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm0\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm1\n\t"
      "vbroadcastss 4(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm2\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm3\n\t"
      "vbroadcastss 8(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm4\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm5\n\t"
      "vbroadcastss 12(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm6\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm7\n\t"
      "vbroadcastss 16(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm8\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm9\n\t"
      "vbroadcastss 20(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm10\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm11\n\t"
      "vmovaps 64(%[B]), %%ymm12\n\t"
      "vmovaps 96(%[B]), %%ymm13\n\t"
      "vbroadcastss 24(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm0\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm1\n\t"
      "vbroadcastss 28(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm2\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm3\n\t"
      "vbroadcastss 32(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm4\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm5\n\t"
      "vbroadcastss 36(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm6\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm7\n\t"
      "vbroadcastss 40(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm8\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm9\n\t"
      "vbroadcastss 44(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm10\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm11\n\t"
      "prefetcht0 640(%[B])\n\t"
      "vmovaps 128(%[B]), %%ymm12\n\t"
      "vmovaps 160(%[B]), %%ymm13\n\t"
      "vbroadcastss 48(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm0\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm1\n\t"
      "vbroadcastss 52(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm2\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm3\n\t"
      "vbroadcastss 56(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm4\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm5\n\t"
      "vbroadcastss 60(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm6\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm7\n\t"
      "vbroadcastss 64(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm8\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm9\n\t"
      "vbroadcastss 68(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm10\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm11\n\t"
      "vmovaps 192(%[B]), %%ymm12\n\t"
      "vmovaps 224(%[B]), %%ymm13\n\t"
      "vbroadcastss 72(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm0\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm1\n\t"
      "vbroadcastss 76(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm2\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm3\n\t"
      "vbroadcastss 80(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm4\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm5\n\t"
      "vbroadcastss 84(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm6\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm7\n\t"
      "vbroadcastss 88(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm8\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm9\n\t"
      "vbroadcastss 92(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm10\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm11\n\t"
      "addq $96, %[A]\n\t"
      "addq $256, %[B]\n\t"
      "decq %[k4]\n\t"
      "jnz 1b\n\t"
      "2:\n\t"
      "testq %[k1], %[k1]\n\t"
      "jz 4f\n\t"
      "3:\n\t"
      "vmovaps 0(%[B]), %%ymm12\n\t"
      "vmovaps 32(%[B]), %%ymm13\n\t"
      "vbroadcastss 0(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm0\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm1\n\t"
      "vbroadcastss 4(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm2\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm3\n\t"
      "vbroadcastss 8(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm4\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm5\n\t"
      "vbroadcastss 12(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm6\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm7\n\t"
      "vbroadcastss 16(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm8\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm9\n\t"
      "vbroadcastss 20(%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm10\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm11\n\t"
      "addq $24, %[A]\n\t"
      "addq $64, %[B]\n\t"
      "decq %[k1]\n\t"
      "jnz 3b\n\t"
      "4:\n\t"
      "vmovaps %%ymm0, 0(%[T])\n\t"
      "vmovaps %%ymm1, 32(%[T])\n\t"
      "vmovaps %%ymm2, 64(%[T])\n\t"
      "vmovaps %%ymm3, 96(%[T])\n\t"
      "vmovaps %%ymm4, 128(%[T])\n\t"
      "vmovaps %%ymm5, 160(%[T])\n\t"
      "vmovaps %%ymm6, 192(%[T])\n\t"
      "vmovaps %%ymm7, 224(%[T])\n\t"
      "vmovaps %%ymm8, 256(%[T])\n\t"
      "vmovaps %%ymm9, 288(%[T])\n\t"
      "vmovaps %%ymm10, 320(%[T])\n\t"
      "vmovaps %%ymm11, 352(%[T])\n\t"
      : [A] "+r"(A), [B] "+r"(B), [k4] "+r"(k4), [k1] "+r"(k1)
      : [T] "r"(tile)
      : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
        "xmm10", "xmm11", "xmm12", "xmm13", "xmm14");
  if (mr == A2_MR && nr == A2_NR) {
    for (int i = 0; i < A2_MR; i++)
      store_row_avx2(C + i * ldc, _mm256_load_ps(tile + 16 * i), _mm256_load_ps(tile + 16 * i + 8), beta, bias);
  } else {
    store_tile(tile, A2_NR, C, ldc, beta, bias, mr, nr);
  }
}

/* The same 6 x 16 tile read straight from unpacked operands: row r of A at step p is
   A0 + r*arow + p*astep bytes (rows 3..5 from A3 = A0 + 3*arow), the 16 B values of step p at B + p*bstep.
   A row-major A (arow = lda*4, astep = 4) or a transposed one (arow = 4, astep = lda*4) needs no packing:
   for the skinny products of small models (k or n of 64) packing A cost about half the multiply. Packed panels are the case arow = 4, astep = 24, bstep = 64. Every row and column of the tile
   is read: the caller packs partial edge panels (zero-padded) instead. */
__attribute__((target("avx2,fma"))) static void kernel_avx2_strided(long kc, const float *A, long arow,
                                                                    long astep, const float *B, long bstep,
                                                                    float *C, long ldc, float beta,
                                                                    const float *bias, int mr, int nr,
                                                                    int skip) {
  float tile[A2_MR * A2_NR] __attribute__((aligned(32)));
  const float *A3 = (const float *)((const char *)A + 3 * arow);
  long k = kc;
  __asm__ __volatile__(
      "vxorps %%ymm0, %%ymm0, %%ymm0\n\t"
      "vxorps %%ymm1, %%ymm1, %%ymm1\n\t"
      "vxorps %%ymm2, %%ymm2, %%ymm2\n\t"
      "vxorps %%ymm3, %%ymm3, %%ymm3\n\t"
      "vxorps %%ymm4, %%ymm4, %%ymm4\n\t"
      "vxorps %%ymm5, %%ymm5, %%ymm5\n\t"
      "vxorps %%ymm6, %%ymm6, %%ymm6\n\t"
      "vxorps %%ymm7, %%ymm7, %%ymm7\n\t"
      "vxorps %%ymm8, %%ymm8, %%ymm8\n\t"
      "vxorps %%ymm9, %%ymm9, %%ymm9\n\t"
      "vxorps %%ymm10, %%ymm10, %%ymm10\n\t"
      "vxorps %%ymm11, %%ymm11, %%ymm11\n\t"
      "testq %[k], %[k]\n\t"
      "jz 2f\n\t"
      "1:\n\t"
      "vmovups 0(%[B]), %%ymm12\n\t"
      "vmovups 32(%[B]), %%ymm13\n\t"
      "vbroadcastss (%[A]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm0\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm1\n\t"
      "vbroadcastss (%[A],%[L],1), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm2\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm3\n\t"
      "vbroadcastss (%[A],%[L],2), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm4\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm5\n\t"
      "vbroadcastss (%[A3]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm6\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm7\n\t"
      "vbroadcastss (%[A3],%[L],1), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm8\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm9\n\t"
      "vbroadcastss (%[A3],%[L],2), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm10\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm11\n\t"
      "addq %[S], %[A]\n\t"
      "addq %[S], %[A3]\n\t"
      "addq %[BS], %[B]\n\t"
      "decq %[k]\n\t"
      "jnz 1b\n\t"
      "2:\n\t"
      "vmovaps %%ymm0, 0(%[T])\n\t"
      "vmovaps %%ymm1, 32(%[T])\n\t"
      "vmovaps %%ymm2, 64(%[T])\n\t"
      "vmovaps %%ymm3, 96(%[T])\n\t"
      "vmovaps %%ymm4, 128(%[T])\n\t"
      "vmovaps %%ymm5, 160(%[T])\n\t"
      "vmovaps %%ymm6, 192(%[T])\n\t"
      "vmovaps %%ymm7, 224(%[T])\n\t"
      "vmovaps %%ymm8, 256(%[T])\n\t"
      "vmovaps %%ymm9, 288(%[T])\n\t"
      "vmovaps %%ymm10, 320(%[T])\n\t"
      "vmovaps %%ymm11, 352(%[T])\n\t"
      : [A] "+r"(A), [A3] "+r"(A3), [B] "+r"(B), [k] "+r"(k)
      : [T] "r"(tile), [L] "r"(arow), [S] "r"(astep), [BS] "r"(bstep)
      : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
        "xmm10", "xmm11", "xmm12", "xmm13", "xmm14");
  if (mr == A2_MR && nr == A2_NR) {
    for (int i = 0; i < A2_MR; i++)
      store_row_avx2(C + i * ldc, _mm256_load_ps(tile + 16 * i), _mm256_load_ps(tile + 16 * i + 8), beta, bias);
  } else {
    store_tile(tile + skip * A2_NR, A2_NR, C, ldc, beta, bias, mr, nr);
  }
}

/* ---------- AVX-512: 14 x 32 (28 accumulators, 2 B vectors, broadcasts folded into the FMAs) ---------- */
#define A5_MR 14
#define A5_NR 32

__attribute__((target("avx512f"))) static inline void store_row_avx512(float *c, __m512 lo, __m512 hi,
                                                                        float beta, const float *bias) {
  if (bias) {
    _mm512_storeu_ps(c, _mm512_add_ps(lo, _mm512_loadu_ps(bias)));
    _mm512_storeu_ps(c + 16, _mm512_add_ps(hi, _mm512_loadu_ps(bias + 16)));
  } else if (beta == 0.0f) {
    _mm512_storeu_ps(c, lo);
    _mm512_storeu_ps(c + 16, hi);
  } else if (beta == 1.0f) {
    _mm512_storeu_ps(c, _mm512_add_ps(lo, _mm512_loadu_ps(c)));
    _mm512_storeu_ps(c + 16, _mm512_add_ps(hi, _mm512_loadu_ps(c + 16)));
  } else {
    __m512 vb = _mm512_set1_ps(beta);
    _mm512_storeu_ps(c, _mm512_fmadd_ps(vb, _mm512_loadu_ps(c), lo));
    _mm512_storeu_ps(c + 16, _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + 16), hi));
  }
}

__attribute__((target("avx512f"))) static void kernel_avx512(long kc, const float *A, const float *B,
                                                             float *C, long ldc, float beta, const float *bias,
                                                             int mr, int nr) {
#define A5_DECL(i) __m512 c##i##0 = _mm512_setzero_ps(), c##i##1 = _mm512_setzero_ps()
  A5_DECL(0);
  A5_DECL(1);
  A5_DECL(2);
  A5_DECL(3);
  A5_DECL(4);
  A5_DECL(5);
  A5_DECL(6);
  A5_DECL(7);
  A5_DECL(8);
  A5_DECL(9);
  A5_DECL(a);
  A5_DECL(b);
  A5_DECL(c);
  A5_DECL(d);
#undef A5_DECL
  for (int i = 0; i < mr; i++) _mm_prefetch((const char *)(C + i * ldc), _MM_HINT_T0);
#define A5_ROW(i, idx)                                                                                       \
  a = _mm512_set1_ps(A[idx]);                                                                                \
  c##i##0 = _mm512_fmadd_ps(a, b0, c##i##0);                                                                 \
  c##i##1 = _mm512_fmadd_ps(a, b1, c##i##1)
  for (long p = 0; p < kc; p++) {
    __m512 b0 = _mm512_load_ps(B), b1 = _mm512_load_ps(B + 16), a;
    _mm_prefetch((const char *)(B + 32 * 8), _MM_HINT_T0);
    A5_ROW(0, 0);
    A5_ROW(1, 1);
    A5_ROW(2, 2);
    A5_ROW(3, 3);
    A5_ROW(4, 4);
    A5_ROW(5, 5);
    A5_ROW(6, 6);
    A5_ROW(7, 7);
    A5_ROW(8, 8);
    A5_ROW(9, 9);
    A5_ROW(a, 10);
    A5_ROW(b, 11);
    A5_ROW(c, 12);
    A5_ROW(d, 13);
    A += A5_MR;
    B += A5_NR;
  }
#undef A5_ROW
  if (mr == A5_MR && nr == A5_NR) {
#define A5_STORE(i, r) store_row_avx512(C + (r) * ldc, c##i##0, c##i##1, beta, bias)
    A5_STORE(0, 0);
    A5_STORE(1, 1);
    A5_STORE(2, 2);
    A5_STORE(3, 3);
    A5_STORE(4, 4);
    A5_STORE(5, 5);
    A5_STORE(6, 6);
    A5_STORE(7, 7);
    A5_STORE(8, 8);
    A5_STORE(9, 9);
    A5_STORE(a, 10);
    A5_STORE(b, 11);
    A5_STORE(c, 12);
    A5_STORE(d, 13);
#undef A5_STORE
  } else {
    float tile[A5_MR * A5_NR] __attribute__((aligned(64)));
#define A5_TILE(i, r)                                                                                        \
  _mm512_store_ps(tile + (r) * 32, c##i##0);                                                                 \
  _mm512_store_ps(tile + (r) * 32 + 16, c##i##1)
    A5_TILE(0, 0);
    A5_TILE(1, 1);
    A5_TILE(2, 2);
    A5_TILE(3, 3);
    A5_TILE(4, 4);
    A5_TILE(5, 5);
    A5_TILE(6, 6);
    A5_TILE(7, 7);
    A5_TILE(8, 8);
    A5_TILE(9, 9);
    A5_TILE(a, 10);
    A5_TILE(b, 11);
    A5_TILE(c, 12);
    A5_TILE(d, 13);
#undef A5_TILE
    store_tile(tile, A5_NR, C, ldc, beta, bias, mr, nr);
  }
}
#endif /* ADAPTLM_X86 */

#if ADAPTLM_X86
/* ---------- few rows times a transposed B: register-blocked dot products ---------- */
/* C(i, j) = alpha * dot(A row i, B row j) + beta * C(i, j), A and B both row-major over k (csa = rsb = 1).
   This is x W^T of a decode step: m is the number of sequences (1-32), B the [n, k] weight. Nothing is
   packed: a block of DB weight rows is read once and dotted with every row of A (which stays in L1), so
   the weight streams from memory exactly once, where the packed path first copies all of it (for a
   4096 x 128 LM head, 2 MB per step) to use each panel only m / MR times. */
#define DOT_MAX_M 32
#define DOT_AHEAD 4
#define DOT_KERNEL(NAME, TARGET, HSUM, HSUM4, VW, DA, DB)                                                         \
  typedef float NAME##_vec __attribute__((vector_size(VW * 4), aligned(4)));                             \
  /* rows i0 .. i0+da of A against rows j0 .. j0+db of B (da <= DA, db <= DB known at compile time   \
     for the full blocks, so the accumulators stay in registers) */                                      \
  __attribute__((target(TARGET))) static inline void NAME##_block(                                       \
      int da, int db, int k, float alpha, const float *a, long rsa, const float *b, long csb, float beta,  \
      float *c, long ldc) {                                                                              \
    NAME##_vec acc[DA][DB];                                                                              \
    for (int ii = 0; ii < DA; ii++)                                                                      \
      for (int jj = 0; jj < DB; jj++) acc[ii][jj] = (NAME##_vec){0};                                     \
    int p = 0;                                                                                           \
    for (; p + VW <= k; p += VW) {                                                                       \
      NAME##_vec bv[DB];                                                                                 \
      /* an edge block (db < DB) reloads row 0 into its unused slots; their sums are never stored */          \
      for (int jj = 0; jj < DB; jj++) bv[jj] = *(const NAME##_vec *)(b + (jj < db ? jj : 0) * csb + p);    \
      for (int ii = 0; ii < DA; ii++) {                                                                  \
        if (ii >= da) break;                                                                             \
        NAME##_vec av = *(const NAME##_vec *)(a + ii * rsa + p);                                         \
        for (int jj = 0; jj < DB; jj++) acc[ii][jj] += av * bv[jj];                                      \
      }                                                                                                  \
    }                                                                                                    \
    /* a full block reduces its four rows' accumulators of one column together (HSUM4) */              \
    float sums[DA][DB];                                                                                  \
    for (int jj = 0; jj < db; jj++) {                                                                    \
      if (da == DA)                                                                                      \
        HSUM4(acc[0][jj], acc[1][jj], acc[2][jj], acc[3][jj], sums, jj);                                 \
      else                                                                                               \
        for (int ii = 0; ii < da; ii++) sums[ii][jj] = HSUM(acc[ii][jj]);                                \
    }                                                                                                    \
    for (int ii = 0; ii < da; ii++)                                                                      \
      for (int jj = 0; jj < db; jj++) {                                                                  \
        float s = sums[ii][jj];                                                                          \
        for (int q = p; q < k; q++) s += a[ii * rsa + q] * b[jj * csb + q];                              \
        float *cij = c + ii * ldc + jj;                                                                  \
        *cij = beta == 0.0f ? alpha * s : alpha * s + beta * *cij;                                       \
      }                                                                                                  \
  }                                                                                                      \
  __attribute__((target(TARGET))) static void NAME(int m, int n, int k, float alpha, const float *a,      \
                                                   long rsa, const float *b, long csb, float beta, float *c, \
                                                   long ldc) {                                           \
    for (int j0 = 0; j0 < n; j0 += DB) {                                                                 \
      int db = n - j0 < DB ? n - j0 : DB;                                                                \
      int i0 = 0;                                                                                        \
      /* the weight rows DOT_AHEAD blocks on, which stream from L3 or memory in a decoding step: x [1, 128] */ \
      /* times a cold 4096 x 128 LM head took 190 us instead of 255 (2 threads, Zen 3) */                  \
      if (j0 + (DOT_AHEAD + 1) * DB <= n)                                                                \
        for (int jj = 0; jj < DB; jj++)                                                                  \
          for (int p = 0; p < k; p += 16) __builtin_prefetch(b + (j0 + DOT_AHEAD * DB + jj) * csb + p);   \
      if (db == DB)                                                                                      \
        for (; i0 + DA <= m; i0 += DA)                                                                   \
          NAME##_block(DA, DB, k, alpha, a + i0 * rsa, rsa, b + j0 * csb, csb, beta, c + i0 * ldc + j0,   \
                       ldc);                                                                             \
      for (; i0 < m; i0++)                                                                               \
        NAME##_block(1, db, k, alpha, a + i0 * rsa, rsa, b + j0 * csb, csb, beta, c + i0 * ldc + j0, ldc); \
    }                                                                                                    \
  }

__attribute__((target("avx2,fma"))) static inline float hsum_avx2(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
__attribute__((target("avx512f"))) static inline float hsum_avx512(__m512 v) { return _mm512_reduce_add_ps(v); }

/* the sums of four accumulators into sums[0..3][col]: three horizontal adds instead of four reductions */
#define HSUM4_AVX2(A0, A1, A2, A3, SUMS, COL)                                                               \
  do {                                                                                                   \
    __m256 t_ = _mm256_hadd_ps(_mm256_hadd_ps(A0, A1), _mm256_hadd_ps(A2, A3));                            \
    float r_[4];                                                                                         \
    _mm_storeu_ps(r_, _mm_add_ps(_mm256_castps256_ps128(t_), _mm256_extractf128_ps(t_, 1)));            \
    for (int i_ = 0; i_ < 4; i_++) SUMS[i_][COL] = r_[i_];                                               \
  } while (0)
#define HSUM4_AVX512(A0, A1, A2, A3, SUMS, COL)                                                             \
  do {                                                                                                   \
    SUMS[0][COL] = hsum_avx512(A0);                                                                      \
    SUMS[1][COL] = hsum_avx512(A1);                                                                      \
    SUMS[2][COL] = hsum_avx512(A2);                                                                      \
    SUMS[3][COL] = hsum_avx512(A3);                                                                      \
  } while (0)

/* 16 registers for AVX2: 4 x 3 accumulators + 3 weight vectors + 1. */
DOT_KERNEL(gemm_dot_avx2, "avx2,fma", hsum_avx2, HSUM4_AVX2, 8, 4, 3)
/* 32 registers for AVX-512: 4 x 6 accumulators + 6 weight vectors + 1. (A 4 x 4 block with a transposing
   reduction of all 16 accumulators at once measured no faster.) */
DOT_KERNEL(gemm_dot_avx512, "avx512f", hsum_avx512, HSUM4_AVX512, 16, 4, 6)
#endif

/* ---------- CPU dispatch ---------- */
static int detected_isa = -1;

int adaptlm_best_isa(void);

static int detect_isa(void) {
  int best = adaptlm_best_isa();
  const char *env = getenv("ADAPTLM_ISA");
  if (env) {
    int want = best;
    if (strcmp(env, "scalar") == 0) want = ISA_SCALAR;
    else if (strcmp(env, "avx2") == 0) want = ISA_AVX2;
    else if (strcmp(env, "avx512") == 0) want = ISA_AVX512;
    if (want < best) best = want;
  }
  return best;
}

int adaptlm_isa(void) {
  if (detected_isa < 0) detected_isa = detect_isa();
  return detected_isa;
}

int adaptlm_best_isa(void) {
  static int best = -1;
  if (best < 0) {
    best = ISA_SCALAR;
#if ADAPTLM_X86 && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = ISA_AVX2;
    if (__builtin_cpu_supports("avx512f")) best = ISA_AVX512;
#endif
  }
  return best;
}

int adaptlm_force_isa(int isa) {
  int best = adaptlm_best_isa();
  detected_isa = isa < best ? isa : best;
  return detected_isa;
}

const char *adaptlm_isa_name(int isa) {
  return isa == ISA_AVX512 ? "avx512" : isa == ISA_AVX2 ? "avx2" : "scalar";
}

static gemm_config scalar = {SC_MR, SC_NR, 128, 256, 2048, kernel_scalar};
#if ADAPTLM_X86
static gemm_config avx2 = {A2_MR, A2_NR, 144, 320, 3072, kernel_avx2};
static gemm_config avx512 = {A5_MR, A5_NR, 168, 256, 3072, kernel_avx512};
#endif

/* Overrides the cache blocking of the current kernel (benchmark experiments only; 0 keeps a value). */
void gemm_tune(int mc, int kc, int nc) {
  gemm_config *cfg = &scalar;
#if ADAPTLM_X86
  if (adaptlm_isa() == ISA_AVX512) cfg = &avx512;
  else if (adaptlm_isa() == ISA_AVX2) cfg = &avx2;
#endif
  if (mc > 0) cfg->mc = ((mc + cfg->mr - 1) / cfg->mr) * cfg->mr;
  if (kc > 0) cfg->kc = kc;
  if (nc > 0) cfg->nc = ((nc + cfg->nr - 1) / cfg->nr) * cfg->nr;
}

static const gemm_config *config(void) {
#if ADAPTLM_X86
  int isa = adaptlm_isa();
  if (isa == ISA_AVX512) return &avx512;
  if (isa == ISA_AVX2) return &avx2;
#endif
  return &scalar;
}

/* ---------- packing ---------- */
/* Packs A(i, p) for i < mc, p < kc (A(i,p) = a[i*rsa + p*csa]) scaled by alpha into mr-row panels:
   panel q holds rows q*mr.. as dst[q*mr*kc + p*mr + ii]. Reads follow A's memory order. */
#if defined(__GNUC__) && !defined(__clang__)
/* the zero padding of an edge panel is a few floats: a memset call each cost more than the stores */
#define NO_MEMSET_CALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define NO_MEMSET_CALLS
#endif
NO_MEMSET_CALLS
static void pack_a(int mc, int kc, const float *a, long rsa, long csa, float alpha, int mr, float *dst) {
  int panels = (mc + mr - 1) / mr;
  if (csa == 1) {
    for (int q = 0; q < panels; q++) {
      int rows = mc - q * mr < mr ? mc - q * mr : mr;
      float *d = dst + (long)q * mr * kc;
      for (int ii = 0; ii < rows; ii++) {
        const float *s = a + (long)(q * mr + ii) * rsa;
        for (int p = 0; p < kc; p++) d[p * mr + ii] = alpha * s[p];
      }
      for (int ii = rows; ii < mr; ii++)
        for (int p = 0; p < kc; p++) d[p * mr + ii] = 0.0f;
    }
  } else {
    /* A stored transposed (rsa == 1 typically): walk it row by row, dealing each row out to the panels */
    const int full = mc / mr;
    for (int p = 0; p < kc; p++) {
      const float *s = a + p * csa;
      int q = 0;
      /* whole panels of an unscaled A^T (a weight gradient G^T X): constant-size copies, inlined as vector
         moves; the general loop below (a multiply and a memset call per panel) made packing A half as
         costly as the multiply for [1024, 64]^T x [1024, 256] */
      if (alpha == 1.0f && rsa == 1) {
        if (mr == 6)
          for (; q < full; q++) memcpy(dst + (long)q * 6 * kc + (long)p * 6, s + q * 6, 6 * sizeof(float));
        else if (mr == 14)
          for (; q < full; q++) memcpy(dst + (long)q * 14 * kc + (long)p * 14, s + q * 14, 14 * sizeof(float));
        else if (mr == 4)
          for (; q < full; q++) memcpy(dst + (long)q * 4 * kc + (long)p * 4, s + q * 4, 4 * sizeof(float));
      }
      for (; q < panels; q++) {
        int rows = mc - q * mr < mr ? mc - q * mr : mr;
        float *d = dst + (long)q * mr * kc + (long)p * mr;
        int ii = 0;
        for (; ii < rows; ii++) d[ii] = alpha * s[(q * mr + ii) * rsa];
        for (; ii < mr; ii++) d[ii] = 0.0f;
      }
    }
  }
}

#if ADAPTLM_X86
/* dst[p * nr + j] = src[j * ld + p] for j < nr (a multiple of 8) and p below kc rounded down to 8, in 8 x 8
   blocks transposed in registers; returns the steps done. Scalar, the transposing pack of a Linear weight
   ran at ~2.4 cycles per float (a 4096 x 128 LM head: 420 us). */
__attribute__((target("avx2"))) static long pack_columns_avx2(int kc, int nr, const float *src, long ld,
                                                              float *dst) {
  long k8 = kc & ~7L;
  for (int j0 = 0; j0 < nr; j0 += 8) {
    const float *s = src + (long)j0 * ld;
    for (long p = 0; p < k8; p += 8) {
      __m256 r0 = _mm256_loadu_ps(s + p), r1 = _mm256_loadu_ps(s + ld + p);
      __m256 r2 = _mm256_loadu_ps(s + 2 * ld + p), r3 = _mm256_loadu_ps(s + 3 * ld + p);
      __m256 r4 = _mm256_loadu_ps(s + 4 * ld + p), r5 = _mm256_loadu_ps(s + 5 * ld + p);
      __m256 r6 = _mm256_loadu_ps(s + 6 * ld + p), r7 = _mm256_loadu_ps(s + 7 * ld + p);
      __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
      __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
      __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
      __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
      __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
      __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
      __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
      __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
      float *d = dst + p * nr + j0;
      _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
      _mm256_storeu_ps(d + nr, _mm256_permute2f128_ps(u1, u5, 0x20));
      _mm256_storeu_ps(d + 2 * nr, _mm256_permute2f128_ps(u2, u6, 0x20));
      _mm256_storeu_ps(d + 3 * nr, _mm256_permute2f128_ps(u3, u7, 0x20));
      _mm256_storeu_ps(d + 4 * nr, _mm256_permute2f128_ps(u0, u4, 0x31));
      _mm256_storeu_ps(d + 5 * nr, _mm256_permute2f128_ps(u1, u5, 0x31));
      _mm256_storeu_ps(d + 6 * nr, _mm256_permute2f128_ps(u2, u6, 0x31));
      _mm256_storeu_ps(d + 7 * nr, _mm256_permute2f128_ps(u3, u7, 0x31));
    }
  }
  return k8;
}
#endif

/* Packs B(p, j) for p < kc, j < nc (B(p,j) = b[p*rsb + j*csb]) into nr-column panels: panel q holds
   columns q*nr.. as dst[q*nr*kc + p*nr + jj]. Reads follow B's memory order: row-major B is walked row by
   row (sequential, prefetch-friendly) rather than panel by panel (a page per row when n is large). */
static void pack_b(int kc, int nc, const float *b, long rsb, long csb, int nr, float *dst) {
  int panels = (nc + nr - 1) / nr, full = nc / nr;
  if (csb == 1) {
    for (int p = 0; p < kc; p++) {
      const float *s = b + p * rsb;
      float *d = dst + (long)p * nr;
      /* constant-size copies: inlined as vector moves (a memcpy call per 64 bytes cost ~15%) */
      if (nr == 16) {
        for (int q = 0; q < full; q++) memcpy(d + (long)q * 16 * kc, s + q * 16, 16 * sizeof(float));
      } else if (nr == 32) {
        for (int q = 0; q < full; q++) memcpy(d + (long)q * 32 * kc, s + q * 32, 32 * sizeof(float));
      } else {
        for (int q = 0; q < full; q++)
          for (int jj = 0; jj < nr; jj++) d[(long)q * nr * kc + jj] = s[q * nr + jj];
      }
      if (full < panels) {
        int cols = nc - full * nr;
        float *dp = d + (long)full * nr * kc;
        for (int jj = 0; jj < cols; jj++) dp[jj] = s[full * nr + jj];
        for (int jj = cols; jj < nr; jj++) dp[jj] = 0.0f;
      }
    }
  } else {
    /* B stored transposed (a Linear layer's weight): each column of the panel is contiguous in memory */
    for (int q = 0; q < panels; q++) {
      int cols = nc - q * nr < nr ? nc - q * nr : nr;
      float *d = dst + (long)q * nr * kc;
#if ADAPTLM_X86
      if (cols == nr && nr % 8 == 0 && rsb == 1 && adaptlm_isa() >= ISA_AVX2) {
        long done = pack_columns_avx2(kc, nr, b + (long)q * nr * csb, csb, d);
        for (int jj = 0; jj < nr; jj++) {
          const float *s = b + (long)(q * nr + jj) * csb;
          for (long p = done; p < kc; p++) d[p * nr + jj] = s[p];
        }
        continue;
      }
#endif
      for (int jj = 0; jj < cols; jj++) {
        const float *s = b + (long)(q * nr + jj) * csb;
        for (int p = 0; p < kc; p++) d[p * nr + jj] = s[p * rsb];
      }
      if (cols < nr)
        for (int p = 0; p < kc; p++)
          for (int jj = cols; jj < nr; jj++) d[p * nr + jj] = 0.0f;
    }
  }
}

/* ---------- unpacked path for tiny or skinny products ---------- */
static void scale_c(int m, int n, float beta, float *c, long ldc) {
  for (int i = 0; i < m; i++) {
    float *row = c + i * ldc;
    if (beta == 0.0f)
      memset(row, 0, (size_t)n * sizeof(float));
    else if (beta != 1.0f)
      for (int j = 0; j < n; j++) row[j] *= beta;
  }
}

#if defined(__GNUC__) && defined(__linux__) && ADAPTLM_X86 && !defined(__clang__)
#define MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MULTIVERSION
#endif

MULTIVERSION
static void gemm_unpacked(int m, int n, int k, float alpha, const float *a, long rsa, long csa, const float *b,
                          long rsb, long csb, float beta, float *c, long ldc) {
  if (csb == 1) {
    /* C row i += (alpha A(i,p)) * B row p: contiguous axpys, four rows per pass over B. */
    scale_c(m, n, beta, c, ldc);
    int i0 = 0;
    for (; i0 + 4 <= m; i0 += 4) {
      float *c0 = c + i0 * ldc, *c1 = c0 + ldc, *c2 = c1 + ldc, *c3 = c2 + ldc;
      for (int p = 0; p < k; p++) {
        const float *ap = a + i0 * rsa + p * csa;
        float s0 = alpha * ap[0], s1 = alpha * ap[rsa], s2 = alpha * ap[2 * rsa], s3 = alpha * ap[3 * rsa];
        const float *brow = b + p * rsb;
        for (int j = 0; j < n; j++) {
          float bj = brow[j];
          c0[j] += s0 * bj;
          c1[j] += s1 * bj;
          c2[j] += s2 * bj;
          c3[j] += s3 * bj;
        }
      }
    }
    for (int i = i0; i < m; i++) {
      float *crow = c + i * ldc;
      for (int p = 0; p < k; p++) {
        float s = alpha * a[i * rsa + p * csa];
        const float *brow = b + p * rsb;
        for (int j = 0; j < n; j++) crow[j] += s * brow[j];
      }
    }
    return;
  }
  for (int i = 0; i < m; i++) {
    for (int j = 0; j < n; j++) {
      const float *ai = a + i * rsa, *bj = b + j * csb;
      float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int p = 0;
      if (csa == 1 && rsb == 1) {
        for (; p + 8 <= k; p += 8)
          for (int q = 0; q < 8; q++) acc[q] += ai[p + q] * bj[p + q];
      }
      float sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
      for (; p < k; p++) sum += ai[p * csa] * bj[p * rsb];
      float *cij = c + i * ldc + j;
      *cij = beta == 0.0f ? alpha * sum : alpha * sum + beta * *cij;
    }
  }
}

#if ADAPTLM_X86
/* The blocked loops of gemm_serial with kernel_avx2_strided: A is read in place when row-major or
   transposed (csa or rsa 1); B and the partial edge panel of A are packed as usual. alpha is 1. */
static void gemm_strided(int m, int n, int k, const float *a, long rsa, long csa, const float *b, long rsb,
                         long csb, float beta, float *c, long ldc, const float *bias, int KC, int MC, int NC,
                         float *bpack, float *apack) {
  const int MR = A2_MR, NR = A2_NR;
  /* B stays packed: it is reused by every row panel, and a row-major B read in place walks a power-of-2
     row stride (L1 set conflicts) that measured slower than packing it. */
  const int direct_a = csa == 1 || rsa == 1;
  const long bstep = NR * (long)sizeof(float);
  for (int jc = 0; jc < n; jc += NC) {
    int nc = n - jc < NC ? n - jc : NC;
    for (int pc = 0; pc < k; pc += KC) {
      int kc = k - pc < KC ? k - pc : KC;
      float beta_block = pc == 0 && !bias ? beta : 1.0f;
      pack_b(kc, nc, b + (long)pc * rsb + (long)jc * csb, rsb, csb, NR, bpack);
      for (int ic = 0; ic < m; ic += MC) {
        int mc = m - ic < MC ? m - ic : MC;
        const float *ablock = a + (long)ic * rsa + (long)pc * csa;
        int mfull = direct_a ? (mc / MR) * MR : 0; /* rows read in place */
        /* The last rows short of a panel: read in place as the panel ending at row mc, storing only its new
           rows (a 64-row attention block is 10 panels and 4 rows; packing those 4 took a tenth of the
           backward pass), or packed when there is no such panel. */
        int overlap = direct_a && mfull < mc && mc >= MR;
        if (mfull < mc && !overlap) pack_a(mc - mfull, kc, ablock + (long)mfull * rsa, rsa, csa, 1.0f, MR, apack);
        for (int jr = 0; jr < nc; jr += NR) {
          int nr = nc - jr < NR ? nc - jr : NR;
          const float *bp = bpack + (long)jr * kc;
          const float *bias_block = bias && pc == 0 ? bias + jc + jr : NULL;
          for (int ir = 0; ir < mc; ir += MR) {
            int mr = mc - ir < MR ? mc - ir : MR;
            float *cp = c + (long)(ic + ir) * ldc + jc + jr;
            if (ir < mfull)
              kernel_avx2_strided(kc, ablock + (long)ir * rsa, rsa * (long)sizeof(float),
                                  csa * (long)sizeof(float), bp, bstep, cp, ldc, beta_block, bias_block, mr, nr,
                                  0);
            else if (overlap)
              kernel_avx2_strided(kc, ablock + (long)(mc - MR) * rsa, rsa * (long)sizeof(float),
                                  csa * (long)sizeof(float), bp, bstep, cp, ldc, beta_block, bias_block, mr, nr,
                                  MR - mr);
            else
              kernel_avx2_strided(kc, apack + (long)(ir - mfull) * kc, sizeof(float), MR * (long)sizeof(float),
                                  bp, bstep, cp, ldc, beta_block, bias_block, mr, nr, 0);
          }
        }
      }
    }
  }
}
#endif

/* gemm_serial with an optional bias (a Linear's, n values): C = bias + alpha A B, beta unused. The blocked paths
   add the bias to the first K block's tiles as they are stored, so C is written once and never read: filling
   C with the bias first and accumulating into it cost 15-25% of a [1024, 64] x [64, 256] product. */
static void gemm_serial_bias(int thread, int m, int n, int k, float alpha, const float *a, long rsa, long csa,
                             const float *b, long rsb, long csb, float beta, float *c, long ldc,
                             const float *bias) {
  if (m <= 0 || n <= 0) return;
  const gemm_config *cfg = config();
#if ADAPTLM_X86
  /* A read in place by the AVX2 kernel (alpha is applied when packing) where packing it would cost a
     large share of the product: narrow outputs (n <= 64) reuse each packed row only a few times. Wider
     ones re-read A from its strided rows once per 16 columns, which measured 1.5x slower at BERT-base
     sizes than packing it once. AVX-512 hosts take this path too, up to n = 256: a 14 x 32 tile fits narrow
     outputs badly (16 columns fill half of it, 64 rows are 4.6 panels), and Zen 4 runs a 512-bit FMA as two
     256-bit halves, so the 6 x 16 kernel loses no peak there (tiny training step: 7.3 -> 5.8 ms; one thread,
     [1024, k] x [k, n]^T: n 256, k 64: 324 -> 309 us, k 768: 4.2 -> 3.7 ms; n 768, k 768: 12.1 -> 13.5 ms). */
  const int avx512 = cfg->kernel == kernel_avx512; /* the dot products below keep their AVX-512 kernel */
  const int strided = (cfg->kernel == kernel_avx2 || avx512) && alpha == 1.0f && (csa == 1 || rsa == 1) &&
                      n <= (avx512 ? 16 : 4) * A2_NR;
  if (strided) cfg = &avx2;
#endif
  long work = (long)m * n * k;
  int blocked = k > 0 && !(work <= 4096 || m < cfg->mr / 2 || (n < cfg->nr / 2 && csb != 1)) && m != 1 &&
                n != 1;
#if ADAPTLM_X86
  int dot = m <= DOT_MAX_M && rsb == 1 && csb != 1 && csa == 1 && k >= 16 && cfg->kernel != kernel_scalar;
#else
  int dot = 0;
#endif
  if (bias && (!blocked || dot)) {
    fill_bias(c, ldc, bias, m, n);
    bias = NULL;
    beta = 1.0f;
  }
  if (k <= 0) {
    scale_c(m, n, beta, c, ldc);
    return;
  }
#if ADAPTLM_X86
  if (dot) {
    if (avx512)
      gemm_dot_avx512(m, n, k, alpha, a, rsa, b, csb, beta, c, ldc);
    else
      gemm_dot_avx2(m, n, k, alpha, a, rsa, b, csb, beta, c, ldc);
    return;
  }
#endif
  if (!blocked) {
    gemm_unpacked(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc);
    return;
  }
  const int MR = cfg->mr, NR = cfg->nr;
  /* Balanced blocks: k = 768 with KC 320 runs as 3 x 256 rather than 320 + 320 + 128. */
  int kblocks = (k + cfg->kc - 1) / cfg->kc, mblocks = (m + cfg->mc - 1) / cfg->mc;
  int nblocks = (n + cfg->nc - 1) / cfg->nc;
  const int KC = (k + kblocks - 1) / kblocks;
  const int MC = (((m + mblocks - 1) / mblocks + MR - 1) / MR) * MR;
  const int NC = (((n + nblocks - 1) / nblocks + NR - 1) / NR) * NR;
  int ncmax = NC, kcmax = KC, mcmax = MC;
  float *bpack = thread_scratch(thread, 0, (size_t)kcmax * ncmax);
  float *apack = thread_scratch(thread, 1, (size_t)kcmax * mcmax);
  if (!bpack || !apack) {
    if (bias) fill_bias(c, ldc, bias, m, n);
    gemm_unpacked(m, n, k, alpha, a, rsa, csa, b, rsb, csb, bias ? 1.0f : beta, c, ldc);
    return;
  }
#if ADAPTLM_X86
  if (strided) {
    gemm_strided(m, n, k, a, rsa, csa, b, rsb, csb, beta, c, ldc, bias, KC, MC, NC, bpack, apack);
    return;
  }
#endif
  for (int jc = 0; jc < n; jc += NC) {
    int nc = n - jc < NC ? n - jc : NC;
    for (int pc = 0; pc < k; pc += KC) {
      int kc = k - pc < KC ? k - pc : KC;
      float beta_block = pc == 0 && !bias ? beta : 1.0f;
      pack_b(kc, nc, b + (long)pc * rsb + (long)jc * csb, rsb, csb, NR, bpack);
      for (int ic = 0; ic < m; ic += MC) {
        int mc = m - ic < MC ? m - ic : MC;
        pack_a(mc, kc, a + (long)ic * rsa + (long)pc * csa, rsa, csa, alpha, MR, apack);
        for (int jr = 0; jr < nc; jr += NR) {
          int nr = nc - jr < NR ? nc - jr : NR;
          const float *bp = bpack + (long)jr * kc;
          const float *bias_block = bias && pc == 0 ? bias + jc + jr : NULL;
          for (int ir = 0; ir < mc; ir += MR) {
            int mr = mc - ir < MR ? mc - ir : MR;
            cfg->kernel(kc, apack + (long)ir * kc, bp, c + (long)(ic + ir) * ldc + jc + jr, ldc, beta_block,
                        bias_block, mr, nr);
          }
        }
      }
    }
  }
}

void gemm_serial(int thread, int m, int n, int k, float alpha, const float *a, long rsa, long csa,
                 const float *b, long rsb, long csb, float beta, float *c, long ldc) {
  gemm_serial_bias(thread, m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc, NULL);
}

/* ---------- batched, threaded entry ---------- */
typedef struct {
  const gemm_args *g;
  int split_m, split_n, chunk_m, chunk_n;
  long rsa, csa, rsb, csb;
  /* split over K in parts of chunk_k: part 0 multiplies into C, part p > 0 into partial + (p - 1) m n */
  int chunk_k;
  float *partial;
} gemm_job;

/* One K part of a single product: its rows [k0, k1) of B and columns of A. Part 0 owns C (beta, bias). */
static void gemm_k_task(void *ctx, int thread, int task) {
  const gemm_job *job = ctx;
  const gemm_args *g = job->g;
  int k0 = task * job->chunk_k, k1 = k0 + job->chunk_k < g->k ? k0 + job->chunk_k : g->k;
  const float *a = g->a + k0 * job->csa, *b = g->b + k0 * job->rsb;
  if (task > 0) {
    gemm_serial(thread, g->m, g->n, k1 - k0, g->alpha, a, job->rsa, job->csa, b, job->rsb, job->csb, 0.0f,
                job->partial + (long)(task - 1) * g->m * g->n, g->n);
    return;
  }
  gemm_serial_bias(thread, g->m, g->n, k1 - k0, g->alpha, a, job->rsa, job->csa, b, job->rsb, job->csb, g->beta,
                   g->c, g->n, g->bias);
}

static void gemm_task(void *ctx, int thread, int task) {
  const gemm_job *job = ctx;
  const gemm_args *g = job->g;
  int per = job->split_m * job->split_n;
  int bi = task / per, r = task % per;
  int m0 = (r / job->split_n) * job->chunk_m, n0 = (r % job->split_n) * job->chunk_n;
  if (m0 >= g->m || n0 >= g->n) return;
  int m1 = m0 + job->chunk_m < g->m ? m0 + job->chunk_m : g->m;
  int n1 = n0 + job->chunk_n < g->n ? n0 + job->chunk_n : g->n;
  const float *a = g->a + bi * g->strideA + m0 * job->rsa;
  const float *b = g->b + bi * g->strideB + n0 * job->csb;
  float *c = g->c + bi * g->strideC + (long)m0 * g->n + n0;
  /* the bias goes in as this thread's tiles are stored (gemm_serial_bias): a separate broadcast pass over a
     fresh output ran at memory speed */
  gemm_serial_bias(thread, m1 - m0, n1 - n0, g->k, g->alpha, a, job->rsa, job->csa, b, job->rsb, job->csb, g->beta,
                   c, g->n, g->bias ? g->bias + n0 : NULL);
}

/* Multiply-adds per task below which another thread costs more than it saves. The pool's workers spin
   between jobs, so a split pays early: on 2 threads x W^T with x [1, 128] and W [256, 128] (32K) took
   2.8 us serially and 1.9 us split, [20, 128] x [128, 128]^T 13.4 us and 7.4 us. */
#define GEMM_TASK_WORK 16384.0

void gemm_run(const gemm_args *g) {
  if (g->batch <= 0 || g->m <= 0 || g->n <= 0) return;
  gemm_job job;
  job.g = g;
  job.rsa = g->transA ? 1 : g->k;
  job.csa = g->transA ? g->m : 1;
  job.rsb = g->transB ? 1 : g->n;
  job.csb = g->transB ? g->k : 1;
  job.split_m = job.split_n = 1;
  job.chunk_m = g->m;
  job.chunk_n = g->n;
  int threads = pool_threads();
  double work = (double)g->m * g->n * (g->k > 0 ? g->k : 1);
  if (threads == 1 || work * g->batch < 2 * GEMM_TASK_WORK) {
    for (int bi = 0; bi < g->batch; bi++) gemm_task(&job, 0, bi);
    return;
  }
  long outputs = (long)g->m * g->n;
  if (g->batch == 1 && g->k >= 4 * (g->m > g->n ? g->m : g->n) && outputs * (threads - 1) <= (1L << 20)) {
    /* A long sum into a small output (a weight gradient x^T dy over many tokens): each thread takes a run of
       the tokens, the rows its own earlier row-split ops wrote, instead of every thread reading all of
       them for a slice of the output; the partial products are added after. */
    job.chunk_k = (g->k + threads - 1) / threads;
    job.partial = thread_scratch(0, 4, (size_t)((threads - 1) * outputs));
    if (job.partial) {
      pool_run(gemm_k_task, &job, threads);
      for (int p = 1; p < threads; p++) {
        const float *part = job.partial + (p - 1) * outputs;
        for (long i = 0; i < outputs; i++) g->c[i] += part[i];
      }
      return;
    }
  }
  if (!(g->batch >= 4 * threads || g->batch % threads == 0)) {
    /* Split each product into `threads` parts (over N or M, cut on micro-tile boundaries). */
    const gemm_config *cfg = config();
    int parts = work / GEMM_TASK_WORK < threads ? (int)(work / GEMM_TASK_WORK) : threads;
    if (parts < 1) parts = 1;
    int blocks_n = (g->n + cfg->nr - 1) / cfg->nr, blocks_m = (g->m + cfg->mr - 1) / cfg->mr;
    if (blocks_n >= parts && (long)g->n * cfg->mr >= (long)g->m * cfg->nr / 2) {
      job.chunk_n = ((blocks_n + parts - 1) / parts) * cfg->nr;
      job.split_n = (g->n + job.chunk_n - 1) / job.chunk_n;
    } else if (blocks_m >= parts) {
      job.chunk_m = ((blocks_m + parts - 1) / parts) * cfg->mr;
      job.split_m = (g->m + job.chunk_m - 1) / job.chunk_m;
    }
  }
  pool_run(gemm_task, &job, g->batch * job.split_m * job.split_n);
}

/* ---------- prepacked weights (inference) ---------- */
/* A weight that does not change between calls (decoding) is packed once into the micro-kernel's B panels,
   so each product only packs its few A rows: x [20, 128] times a 4096 x 128 LM head read in place by the
   dot kernel ran at 32 GFLOP/s on one Zen 3 thread, from panels at 57. Layout: panel q (columns q*nr ..)
   at q*nr*k, column jj of step p at p*nr + jj, zero-padded to whole panels; any k block of a panel is
   contiguous, so the blocked loops below read it in place. */

int gemm_packed_width(void) { return config()->nr; }

long gemm_packed_size(int n, int k) {
  int nr = config()->nr;
  return (long)((n + nr - 1) / nr) * nr * k;
}

void gemm_pack_weight(int n, int k, const float *w, int transposed, float *dst) {
  /* B(p, j) = W(j, p): an [n, k] weight (x W^T) when transposed, else a [k, n] one (x W) */
  if (transposed)
    pack_b(k, n, w, 1, k, config()->nr, dst);
  else
    pack_b(k, n, w, n, 1, config()->nr, dst);
}

typedef struct {
  int m, n, k, chunk_n;
  const float *a; /* [m, k] row-major */
  const float *packed;
  float *c; /* [m, n] row-major */
  float beta;
} packed_job;

static void packed_task(void *ctx, int thread, int task) {
  const packed_job *job = ctx;
  const gemm_config *cfg = config();
  const int MR = cfg->mr, NR = cfg->nr, m = job->m, k = job->k;
  int n0 = task * job->chunk_n, n1 = n0 + job->chunk_n < job->n ? n0 + job->chunk_n : job->n;
  int kblocks = (k + cfg->kc - 1) / cfg->kc, mblocks = (m + cfg->mc - 1) / cfg->mc;
  const int KC = (k + kblocks - 1) / kblocks;
  const int MC = (((m + mblocks - 1) / mblocks + MR - 1) / MR) * MR;
  float *apack = thread_scratch(thread, 1, (size_t)KC * MC);
  if (!apack) {
    for (int j = n0; j < n1; j++) /* out of memory for a few KB: the product column by column */
      for (int i = 0; i < m; i++) {
        const float *panel = job->packed + (long)(j / NR) * NR * k + j % NR;
        float s = 0.0f;
        for (int p = 0; p < k; p++) s += job->a[(long)i * k + p] * panel[(long)p * NR];
        float *cij = job->c + (long)i * job->n + j;
        *cij = job->beta == 0.0f ? s : s + job->beta * *cij;
      }
    return;
  }
  for (int pc = 0; pc < k; pc += KC) {
    int kc = k - pc < KC ? k - pc : KC;
    float beta_block = pc == 0 ? job->beta : 1.0f;
    for (int ic = 0; ic < m; ic += MC) {
      int mc = m - ic < MC ? m - ic : MC;
      pack_a(mc, kc, job->a + (long)ic * k + pc, k, 1, 1.0f, MR, apack);
      const long lines = (long)kc * NR / 16; /* 64-byte lines of one panel's k block */
      const int row_blocks = (mc + MR - 1) / MR;
      const long slice = (lines + row_blocks - 1) / row_blocks;
      for (int jr = n0; jr < n1; jr += NR) {
        int nr = n1 - jr < NR ? n1 - jr : NR;
        const float *bp = job->packed + (long)(jr / NR) * NR * k + (long)pc * NR;
        /* The next panel comes from L3 or memory (the weights of a whole model do not stay in L2 between
           steps); each row block fetches a share of it while this panel, already in L1, is multiplied. */
        const float *next = jr + NR < n1 ? bp + (long)NR * k : NULL;
        for (int ir = 0, blk = 0; ir < mc; ir += MR, blk++) {
          int mr = mc - ir < MR ? mc - ir : MR;
          if (next)
            for (long l = blk * slice; l < (blk + 1) * slice && l < lines; l++)
              __builtin_prefetch(next + l * 16);
          cfg->kernel(kc, apack + (long)ir * kc, bp, job->c + (long)(ic + ir) * job->n + jr, job->n, beta_block,
                      NULL, mr, nr);
        }
      }
    }
  }
}

void gemm_packed_run(int m, int n, int k, const float *a, const float *packed, float *c, float beta) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    scale_c(m, n, beta, c, n);
    return;
  }
  const int NR = config()->nr;
  int panels = (n + NR - 1) / NR, threads = pool_threads();
  double work = (double)m * n * k;
  int parts = work / GEMM_TASK_WORK < threads ? (int)(work / GEMM_TASK_WORK) : threads;
  if (parts > panels) parts = panels;
  if (parts < 1) parts = 1;
  packed_job job = {m, n, k, ((panels + parts - 1) / parts) * NR, a, packed, c, beta};
  int tasks = (n + job.chunk_n - 1) / job.chunk_n;
  if (tasks == 1)
    packed_task(&job, 0, 0);
  else
    pool_run(packed_task, &job, tasks);
}
