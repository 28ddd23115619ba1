// Branch-free float approximations of exp, tanh and erfc written in plain C so that GCC vectorises the
// loops that call them (see MULTIVERSION in kernels.c). Accuracy (against float64): exp ~2 ulp, tanh
// ~3 ulp, erfc ~1e-6 relative. NaN and infinities follow the libm functions; exp flushes results below
// the smallest normal float (x < -87.34) to 0.
#ifndef ADAPTLM_MATHFUN_H
#define ADAPTLM_MATHFUN_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float bits_as_float(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static inline float fexp(float x) {
  const float hi = 88.72283905f, lo = -87.33654475f;
  float xc = x > hi ? hi : x;
  xc = xc < lo ? lo : xc;
  xc = x == x ? xc : 0.0f;
  int ni = (int)(xc * 1.44269504088896341f + (xc >= 0.0f ? 0.5f : -0.5f));
  float n = (float)ni;
  float r = xc - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int n1 = ni >> 1, n2 = ni - n1;
  float result = p * bits_as_float((uint32_t)(n1 + 127) << 23) * bits_as_float((uint32_t)(n2 + 127) << 23);
  result = x > hi ? INFINITY : result;
  result = x < lo ? 0.0f : result;
  return x == x ? result : x;
}

static inline float ftanh(float x) {
  float ax = x < 0.0f ? -x : x;
  float z = x * x;
  float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z +
                  1.33314422036e-1f) * z - 3.33332819422e-1f) * z * x + x;
  float e = fexp(2.0f * ax);
  float large = 1.0f - 2.0f / (e + 1.0f);
  large = x < 0.0f ? -large : large;
  return ax < 0.625f ? small : large;
}

/* erfc(z) for z >= 0 (Numerical Recipes' erfcc, fractional error < 1.2e-7 before float rounding). */
static inline float ferfc_nonneg(float z) {
  float t = 1.0f / (1.0f + 0.5f * z);
  float poly =
      -1.26551223f +
      t * (1.00002368f +
           t * (0.37409196f +
                t * (0.09678418f +
                     t * (-0.18628806f +
                          t * (0.27886807f +
                               t * (-1.13520398f + t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f))))))));
  return t * fexp(-z * z + poly);
}

/* 1 + erf(z) = 2 * Phi(z * sqrt 2), computed without cancellation for negative z. */
static inline float fone_plus_erf(float z) {
  float e = ferfc_nonneg(z < 0.0f ? -z : z);
  return z >= 0.0f ? 2.0f - e : e;
}

static inline float fsigmoid(float x) { return 1.0f / (1.0f + fexp(-x)); }

#endif

/* ---------- 8-wide versions (GCC/Clang vector extensions) ----------
   GCC does not if-convert the scalar functions above once they are inlined into a loop (jump threading
   of the clamps leaves multi-way PHIs), so the hot loops use these explicitly vectorised forms; each
   target clone compiles them to its own instructions (ymm on AVX2, pairs of xmm on SSE2). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi" /* static inline helpers: no ABI crosses a call */
#endif
typedef float v8sf __attribute__((vector_size(32), aligned(4)));
typedef int32_t v8si __attribute__((vector_size(32), aligned(4)));

static inline __attribute__((always_inline)) v8sf v8_load(const float *p) {
  v8sf v;
  memcpy(&v, p, sizeof v);
  return v;
}

static inline __attribute__((always_inline)) void v8_store(float *p, v8sf v) { memcpy(p, &v, sizeof v); }

static inline __attribute__((always_inline)) v8sf v8_splat(float a) { return (v8sf){a, a, a, a, a, a, a, a}; }

/* mask ? a : b, mask lanes all-ones or zero */
static inline __attribute__((always_inline)) v8sf v8_select(v8si mask, v8sf a, v8sf b) {
  return (v8sf)((mask & (v8si)a) | (~mask & (v8si)b));
}

/* 1 when every lane of the mask is set: three shuffle-and-ANDs (extracting the 8 lanes one by one cost a
   tenth of GELU's backward) */
/* lanes of x (0-7) and y (8-15) */
#if defined(__clang__)
#define V8_SHUFFLE2(x, y, a, b, c, d, e, f, g, h) __builtin_shufflevector(x, y, a, b, c, d, e, f, g, h)
#else
#define V8_SHUFFLE2(x, y, a, b, c, d, e, f, g, h) __builtin_shuffle(x, y, (v8si){a, b, c, d, e, f, g, h})
#endif
#define V8_SHUFFLE(v, a, b, c, d, e, f, g, h) V8_SHUFFLE2(v, v, a, b, c, d, e, f, g, h)
static inline __attribute__((always_inline)) int v8_all(v8si mask) {
  v8si a = mask & V8_SHUFFLE(mask, 4, 5, 6, 7, 0, 1, 2, 3);
  a = a & V8_SHUFFLE(a, 2, 3, 0, 1, 6, 7, 4, 5);
  a = a & V8_SHUFFLE(a, 1, 0, 3, 2, 5, 4, 7, 6);
  return a[0] != 0;
}

/* lane q = the sum of v[q]'s lanes: eight horizontal sums in three levels of pairwise shuffles and adds */
static inline __attribute__((always_inline)) v8sf v8_hsum8(const v8sf v[8]) {
  v8sf u[4], w[2];
  for (int i = 0; i < 4; i++)
    u[i] = V8_SHUFFLE2(v[2 * i], v[2 * i + 1], 0, 2, 8, 10, 4, 6, 12, 14) +
           V8_SHUFFLE2(v[2 * i], v[2 * i + 1], 1, 3, 9, 11, 5, 7, 13, 15);
  for (int i = 0; i < 2; i++)
    w[i] = V8_SHUFFLE2(u[2 * i], u[2 * i + 1], 0, 2, 8, 10, 4, 6, 12, 14) +
           V8_SHUFFLE2(u[2 * i], u[2 * i + 1], 1, 3, 9, 11, 5, 7, 13, 15);
  return V8_SHUFFLE2(w[0], w[1], 0, 1, 2, 3, 8, 9, 10, 11) + V8_SHUFFLE2(w[0], w[1], 4, 5, 6, 7, 12, 13, 14, 15);
}

static inline __attribute__((always_inline)) float v8_hsum(v8sf v) {
  return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

/* The exp and erfc cores, defined once for each vector width (VEC_MATH_CORE(v8, ...) below: 8 lanes; 16 lanes for the
   AVX-512 loops of kernels.c, the same operations lane for lane and so the same values bit for bit). */
#define VEC_SPLAT(VF, a) ((VF){0} + (a))
#define VEC_SELECT(VF, VI, mask, a, b) ((VF)(((mask) & (VI)(a)) | (~(mask) & (VI)(b))))
#define VEC_MATH_CORE(P, VF, VI)                                                                               \
  /* exp(x) = p(r) 2^n, n = x log2(e) + half truncated (half: +-0.5 rounds to nearest), r = x - n ln 2 in     \
     two parts: the range reduction and polynomial both exps share. Returns p; n in *n_out. */               \
  static inline __attribute__((always_inline)) VF P##_exp_reduced(VF x, VF half, VI *n_out) {                  \
    VI ni = __builtin_convertvector(x * 1.44269504088896341f + half, VI);                                      \
    VF n = __builtin_convertvector(ni, VF);                                                                    \
    VF r = x - n * 0.693359375f;                                                                               \
    r = r + n * 2.12194440e-4f;                                                                                \
    VF p = VEC_SPLAT(VF, 1.9875691500e-4f);                                                                    \
    p = p * r + 1.3981999507e-3f;                                                                              \
    p = p * r + 8.3334519073e-3f;                                                                              \
    p = p * r + 4.1665795894e-2f;                                                                              \
    p = p * r + 1.6666665459e-1f;                                                                              \
    p = p * r + 5.0000001201e-1f;                                                                              \
    *n_out = ni;                                                                                               \
    return p * r * r + r + 1.0f;                                                                               \
  }                                                                                                            \
  /* exp for x <= 0 or NaN (softmax terms x - max): the values of v8_exp, bit for bit, without the overflow   \
     and sign handling, and 2^n as one power of two (n >= -126 here); below the float range, 0. */          \
  static inline __attribute__((always_inline)) VF P##_exp_nonpositive(VF x) {                                 \
    VI small = x < VEC_SPLAT(VF, -87.33654475f), ni;                                                          \
    VF p = P##_exp_reduced(x, VEC_SPLAT(VF, -0.5f), &ni);                                                      \
    return VEC_SELECT(VF, VI, small, VEC_SPLAT(VF, 0.0f), p * (VF)((ni + 127) << 23));                         \
  }                                                                                                            \
  /* erfc(z) = t exp(x) for z >= 0: returns the exponent x <= 0 and t in *t_out (GELU computes the two        \
     halves in separate passes) */                                                                             \
  static inline __attribute__((always_inline)) VF P##_erfc_exponent(VF z, VF *t_out) {                        \
    VF t = 1.0f / (1.0f + 0.5f * z);                                                                           \
    VF poly = -0.82215223f + t * 0.17087277f;                                                                  \
    poly = 1.48851587f + t * poly;                                                                             \
    poly = -1.13520398f + t * poly;                                                                            \
    poly = 0.27886807f + t * poly;                                                                             \
    poly = -0.18628806f + t * poly;                                                                            \
    poly = 0.09678418f + t * poly;                                                                             \
    poly = 0.37409196f + t * poly;                                                                             \
    poly = 1.00002368f + t * poly;                                                                             \
    poly = -1.26551223f + t * poly;                                                                            \
    /* -z^2 + poly = log(erfc(z) (1 + z / 2)) <= 0 (up to 3e-8 at z = 0, where both exps give the same) */    \
    *t_out = t;                                                                                                \
    return -z * z + poly;                                                                                      \
  }

VEC_MATH_CORE(v8, v8sf, v8si)

/* 16 lanes: compiled only into AVX-512 functions (a 64-byte vector split over AVX2 registers ran 3x slower
   than the 8-lane code). */
typedef float v16sf __attribute__((vector_size(64), aligned(4)));
typedef int32_t v16si __attribute__((vector_size(64), aligned(4)));
VEC_MATH_CORE(v16, v16sf, v16si)

static inline __attribute__((always_inline)) v8sf v8_exp(v8sf x) {
  const v8sf hi = v8_splat(88.72283905f), lo = v8_splat(-87.33654475f);
  v8si big = x > hi, small = x < lo, nan = x != x;
  v8sf xc = v8_select(big, hi, x);
  xc = v8_select(small, lo, xc);
  xc = v8_select(nan, v8_splat(0.0f), xc);
  v8si ni;
  v8sf p = v8_exp_reduced(xc, v8_select(xc >= 0.0f, v8_splat(0.5f), v8_splat(-0.5f)), &ni);
  /* 2^n in two factors: n reaches 128 at the top of the range */
  v8si n1 = ni >> 1, n2 = ni - n1;
  v8sf result = p * (v8sf)((n1 + 127) << 23) * (v8sf)((n2 + 127) << 23);
  result = v8_select(big, v8_splat(INFINITY), result);
  result = v8_select(small, v8_splat(0.0f), result);
  return v8_select(nan, x, result);
}

static inline __attribute__((always_inline)) v8sf v8_tanh(v8sf x) {
  v8si negative = x < 0.0f;
  v8sf ax = v8_select(negative, -x, x);
  v8sf z = x * x;
  v8sf small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z +
                 1.33314422036e-1f) * z - 3.33332819422e-1f) * z * x + x;
  v8sf e = v8_exp(2.0f * ax);
  v8sf large = 1.0f - 2.0f / (e + 1.0f);
  large = v8_select(negative, -large, large);
  return v8_select(ax < 0.625f, small, large);
}

static inline __attribute__((always_inline)) v8sf v8_sigmoid(v8sf x) { return 1.0f / (1.0f + v8_exp(-x)); }

static inline __attribute__((always_inline)) v8sf v8_erfc_nonneg(v8sf z) {
  v8sf t;
  v8sf x = v8_erfc_exponent(z, &t);
  return t * v8_exp_nonpositive(x);
}

static inline __attribute__((always_inline)) v8sf v8_one_plus_erf(v8sf z) {
  v8si negative = z < 0.0f;
  v8sf e = v8_erfc_nonneg(v8_select(negative, -z, z));
  return v8_select(z >= 0.0f, 2.0f - e, e);
}
