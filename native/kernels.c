// Element-wise, reduction, normalisation, embedding, loss, RoPE, attention and optimizer kernels. Inner
// loops are plain C written so that GCC vectorises them; MULTIVERSION compiles them twice (AVX2+FMA and
// baseline x86-64) and picks at load time; the exp-bound ones also have 16-lane AVX-512 versions (WIDE).
// Everything above SERIAL_* sizes runs on the pool.
#include "kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adaptlm.h"
#include "mathfun.h"

#if defined(__GNUC__) && defined(__linux__) && ADAPTLM_X86 && !defined(__clang__)
#define MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MULTIVERSION
#endif

/* Below these sizes (elements) a kernel runs on the calling thread: dispatch would cost more. */
#define SERIAL_CHEAP (1L << 16)
#define SERIAL_COSTLY (1L << 13)

#define SQRT_2_OVER_PI 0.7978845608028654f
#define INV_SQRT_2 0.7071067811865476f
#define INV_SQRT_2PI 0.3989422804014327f

/* x ** y with JavaScript's special cases (C's pow returns 1 for 1**NaN and (-1)**inf; JS gives NaN). */
static inline float js_pow(float x, float y) {
  if (y != y || (fabsf(x) == 1.0f && isinf(y))) return NAN;
  return powf(x, y);
}

/* ---------- small vector helpers (fixed-width partial sums: vectorisable without -ffast-math) ---------- */
/* Helpers called from MULTIVERSION functions are inlined into each clone: an out-of-line copy is compiled
   for the baseline target (SSE2, no FMA), and a 32-byte vector passed or returned across the call would
   change with the clone's ABI. */
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Sum of 16 partial sums in a fixed tree: (acc[j] + acc[j + 8]) then pairs of pairs. A serial left-to-right
   sum is a chain of 16 dependent adds (~50 cycles), which dominated rows as short as 64 (a layer norm of
   [1024, 64] spent most of its time there); the tree is 4 adds deep and compiles to a few vector ops. */
ALWAYS_INLINE float hsum16(const float acc[16]) {
  float t[8];
  for (int j = 0; j < 8; j++) t[j] = acc[j] + acc[j + 8];
  return ((t[0] + t[4]) + (t[1] + t[5])) + ((t[2] + t[6]) + (t[3] + t[7]));
}

ALWAYS_INLINE float vsum(const float *x, long n) {
  float acc[16] = {0};
  long i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; j++) acc[j] += x[i + j];
  float s = hsum16(acc);
  for (; i < n; i++) s += x[i];
  return s;
}

ALWAYS_INLINE float vdot(const float *x, const float *y, long n) {
  float acc[16] = {0};
  long i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; j++) acc[j] += x[i + j] * y[i + j];
  float s = hsum16(acc);
  for (; i < n; i++) s += x[i] * y[i];
  return s;
}

/* max with NaN propagation (Math.max semantics); -inf for an empty row. */
ALWAYS_INLINE float vmax(const float *x, long n) {
  /* two running maxima (even and odd vectors): each step is a compare and a blend, a serial chain that set
     the pace of a 64-wide softmax row */
  v8sf m8 = v8_splat(-INFINITY), m8b = m8;
  v8si nan8 = {0, 0, 0, 0, 0, 0, 0, 0};
  long i = 0;
  for (; i + 16 <= n; i += 16) {
    v8sf v = v8_load(x + i), w = v8_load(x + i + 8);
    nan8 |= (v != v) | (w != w);
    m8 = v8_select(v > m8, v, m8);
    m8b = v8_select(w > m8b, w, m8b);
  }
  for (; i + 8 <= n; i += 8) {
    v8sf v = v8_load(x + i);
    nan8 |= v != v;
    m8 = v8_select(v > m8, v, m8);
  }
  m8 = v8_select(m8b > m8, m8b, m8);
  int nan = 0;
  float m = -INFINITY;
  for (int j = 0; j < 8; j++) {
    nan |= nan8[j] != 0;
    m = m8[j] > m ? m8[j] : m;
  }
  for (; i < n; i++) {
    nan |= x[i] != x[i];
    m = x[i] > m ? x[i] : m;
  }
  return nan ? NAN : m;
}

/* out[i] = exp(x[i] - m) (out may be NULL); returns the sum. */
ALWAYS_INLINE float exp_shift_sum(const float *x, float m, float *out, long n) {
  v8sf acc = v8_splat(0.0f), mv = v8_splat(m);
  long i = 0;
  for (; i + 8 <= n; i += 8) {
    v8sf e = v8_exp_nonpositive(v8_load(x + i) - mv); /* m is at least every x: terms <= 0 */
    if (out) v8_store(out + i, e);
    acc += e;
  }
  float s = v8_hsum(acc);
  for (; i < n; i++) {
    float e = fexp(x[i] - m);
    if (out) out[i] = e;
    s += e;
  }
  return s;
}

/* out[i] = exp((x[i] - m) * scale) for i >= start, scale > 0 (out may alias x); returns acc's lanes plus
   these terms. The scaled softmax of raw scores: max(scale x) = scale max(x), so no pass scales the scores
   first. */
ALWAYS_INLINE float exp_shift_scale_sum_from(const float *x, float m, float scale, float *out, long n, long start,
                                             v8sf acc) {
  v8sf mv = v8_splat(m);
  long i = start;
  for (; i + 8 <= n; i += 8) {
    v8sf e = v8_exp_nonpositive((v8_load(x + i) - mv) * scale);
    v8_store(out + i, e);
    acc += e;
  }
  float s = v8_hsum(acc);
  for (; i < n; i++) {
    float e = fexp((x[i] - m) * scale);
    out[i] = e;
    s += e;
  }
  return s;
}

ALWAYS_INLINE float exp_shift_scale_sum(const float *x, float m, float scale, float *out, long n) {
  return exp_shift_scale_sum_from(x, m, scale, out, n, 0, v8_splat(0.0f));
}

/* ---------- 16-lane (AVX-512) versions of the exp-bound loops ----------
   Zen 4 runs a 512-bit operation as two 256-bit halves but holds it as one entry in its schedulers, and these
   loops are bound by how many independent exps are in flight: 16 lanes per entry ran an exp loop at 7.6
   cycles per 8 values instead of 10.4. Each does the 8-lane loop's operations lane for lane and adds sums in
   its order, so the values are the same bit for bit; ADAPTLM_ISA below avx512 turns them off. */
#if defined(__GNUC__) && defined(__linux__) && ADAPTLM_X86 && !defined(__clang__)
#define WIDE_LOOPS 1
#define WIDE __attribute__((target("arch=x86-64-v4"), noinline))

static int use_wide(void) { return adaptlm_isa() >= ISA_AVX512; }

ALWAYS_INLINE v16sf v16_load(const float *p) {
  v16sf v;
  memcpy(&v, p, sizeof v);
  return v;
}

ALWAYS_INLINE void v16_store(float *p, v16sf v) { memcpy(p, &v, sizeof v); }

/* exp_shift_scale_sum in 16 lanes (scale 1: exp_shift_sum); out is not NULL */
WIDE static float exp_shift_scale_sum_wide(const float *x, float m, float scale, float *out, long n) {
  v8sf acc = v8_splat(0.0f);
  v16sf mv = VEC_SPLAT(v16sf, m);
  long i = 0;
  for (; i + 16 <= n; i += 16) {
    v16sf e = v16_exp_nonpositive((v16_load(x + i) - mv) * scale);
    v16_store(out + i, e);
    /* the two halves in the 8-lane loop's order */
    acc += v8_load(out + i);
    acc += v8_load(out + i + 8);
  }
  return exp_shift_scale_sum_from(x, m, scale, out, n, i, acc);
}

/* The blocks of 256 of GELU's forward loop (unary_range); returns how many values it did. */
WIDE static long gelu_forward_wide(const float *x, float *out, long n) {
  float ts[256], exponents[256];
  long i = 0;
  for (; i + 256 <= n; i += 256) {
    for (long l = 0; l < 256; l += 16) {
      v16sf z = v16_load(x + i + l) * INV_SQRT_2, t;
      v16_store(exponents + l, v16_erfc_exponent(VEC_SELECT(v16sf, v16si, z < 0.0f, -z, z), &t));
      v16_store(ts + l, t);
    }
    for (long l = 0; l < 256; l += 16) {
      v16sf v = v16_load(x + i + l);
      v16sf e = v16_load(ts + l) * v16_exp_nonpositive(v16_load(exponents + l));
      v16_store(out + i + l, 0.5f * v * VEC_SELECT(v16sf, v16si, v * INV_SQRT_2 >= 0.0f, 2.0f - e, e));
    }
  }
  return i;
}

/* GELU's backward (unary_backward_range) up to the first 16 values with one near 0, beyond 10 or NaN, which
   the 8-lane loop takes from there; returns how many values it did. */
WIDE static long gelu_backward_wide(const float *x, const float *y, const float *dy, float *dx, long n) {
  long i = 0;
  for (; i + 16 <= n; i += 16) {
    v16sf v = v16_load(x + i);
    v16sf av = VEC_SELECT(v16sf, v16si, v < 0.0f, -v, v);
    v16si ok = (av >= 1e-6f) & (av <= 10.0f);
    v8si lo, hi;
    memcpy(&lo, &ok, sizeof lo);
    memcpy(&hi, (const char *)&ok + sizeof lo, sizeof hi);
    if (!v8_all(lo & hi)) break;
    v16sf phi_x = v * INV_SQRT_2PI * v16_exp_nonpositive(-0.5f * v * v);
    v16_store(dx + i, v16_load(dy + i) * (v16_load(y + i) / v + phi_x));
  }
  return i;
}
#else
#define WIDE_LOOPS 0
#endif

/* out[i] = F(x[i]): 8 lanes at a time (v), then a scalar tail (s). */
#define MAP_UNARY(VEXPR, SEXPR)                                                                              \
  do {                                                                                                       \
    long i_ = 0;                                                                                             \
    for (; i_ + 32 <= n; i_ += 32) {                                                                         \
      v8sf r0_, r1_, r2_, r3_;                                                                               \
      { v8sf v = v8_load(x + i_); r0_ = (VEXPR); }                                                            \
      { v8sf v = v8_load(x + i_ + 8); r1_ = (VEXPR); }                                                        \
      { v8sf v = v8_load(x + i_ + 16); r2_ = (VEXPR); }                                                       \
      { v8sf v = v8_load(x + i_ + 24); r3_ = (VEXPR); }                                                       \
      v8_store(out + i_, r0_);                                                                               \
      v8_store(out + i_ + 8, r1_);                                                                           \
      v8_store(out + i_ + 16, r2_);                                                                          \
      v8_store(out + i_ + 24, r3_);                                                                          \
    }                                                                                                        \
    for (; i_ + 8 <= n; i_ += 8) {                                                                           \
      v8sf v = v8_load(x + i_);                                                                              \
      v8_store(out + i_, (VEXPR));                                                                           \
    }                                                                                                        \
    for (; i_ < n; i_++) {                                                                                   \
      float s = x[i_];                                                                                       \
      out[i_] = (SEXPR);                                                                                     \
    }                                                                                                        \
  } while (0)

/* dx[i] = dy[i] * F'(x[i]) likewise (g: dy lanes, gs: dy scalar). */
#define MAP_BACKWARD(VEXPR, SEXPR)                                                                           \
  do {                                                                                                       \
    long i_ = 0;                                                                                             \
    for (; i_ + 8 <= n; i_ += 8) {                                                                           \
      v8sf v = v8_load(x + i_), g = v8_load(dy + i_);                                                        \
      v8_store(dx + i_, (VEXPR));                                                                            \
    }                                                                                                        \
    for (; i_ < n; i_++) {                                                                                   \
      float s = x[i_], gs = dy[i_];                                                                          \
      dx[i_] = (SEXPR);                                                                                      \
    }                                                                                                        \
  } while (0)

/* ---------- unary ---------- */
MULTIVERSION
static void unary_range(int op, const float *restrict x, float *restrict out, long n, float alpha) {
  switch (op) {
  case U_NEG:
    for (long i = 0; i < n; i++) out[i] = -x[i];
    break;
  case U_EXP:
    MAP_UNARY(v8_exp(v), fexp(s));
    break;
  case U_LOG:
    for (long i = 0; i < n; i++) out[i] = logf(x[i]);
    break;
  case U_SQRT:
    for (long i = 0; i < n; i++) out[i] = sqrtf(x[i]);
    break;
  case U_RSQRT:
    for (long i = 0; i < n; i++) out[i] = 1.0f / sqrtf(x[i]);
    break;
  case U_TANH:
    MAP_UNARY(v8_tanh(v), ftanh(s));
    break;
  case U_SIGMOID:
    MAP_UNARY(v8_sigmoid(v), fsigmoid(s));
    break;
  case U_RELU:
    for (long i = 0; i < n; i++) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
    break;
  case U_GELU:
    /* 0.5 x (1 + erf(x / sqrt 2)), in two passes over blocks of 256: erfc's division and polynomial, then
       its exp. One pass was throughput-bound at ~36 cycles per 8 values on Zen 3; the split runs ~25% faster
       with the same values, bit for bit. */
    {
      float ts[256], exponents[256];
      long i = 0;
#if WIDE_LOOPS
      if (use_wide()) i = gelu_forward_wide(x, out, n);
#endif
      for (; i + 256 <= n; i += 256) {
        for (long l = 0; l < 256; l += 8) {
          v8sf z = v8_load(x + i + l) * INV_SQRT_2, t;
          v8_store(exponents + l, v8_erfc_exponent(v8_select(z < 0.0f, -z, z), &t));
          v8_store(ts + l, t);
        }
        for (long l = 0; l < 256; l += 8) {
          v8sf v = v8_load(x + i + l);
          v8sf e = v8_load(ts + l) * v8_exp_nonpositive(v8_load(exponents + l));
          v8_store(out + i + l, 0.5f * v * v8_select(v * INV_SQRT_2 >= 0.0f, 2.0f - e, e));
        }
      }
      x += i;
      out += i;
      n -= i;
      MAP_UNARY(0.5f * v * v8_one_plus_erf(v * INV_SQRT_2), 0.5f * s * fone_plus_erf(s * INV_SQRT_2));
    }
    break;
  case U_GELU_TANH:
    /* 0.5 x (1 + tanh u) = x sigmoid(2u): no cancellation in the negative tail */
    MAP_UNARY(v * v8_sigmoid((2.0f * SQRT_2_OVER_PI) * (v + 0.044715f * v * v * v)),
              s * fsigmoid((2.0f * SQRT_2_OVER_PI) * (s + 0.044715f * s * s * s)));
    break;
  case U_SILU:
    MAP_UNARY(v * v8_sigmoid(v), s * fsigmoid(s));
    break;
  case U_ABS:
    for (long i = 0; i < n; i++) out[i] = fabsf(x[i]);
    break;
  case U_SQUARE:
    for (long i = 0; i < n; i++) out[i] = x[i] * x[i];
    break;
  case U_SCALE:
    for (long i = 0; i < n; i++) out[i] = x[i] * alpha;
    break;
  case U_SHIFT:
    for (long i = 0; i < n; i++) out[i] = x[i] + alpha;
    break;
  case U_POW:
    if (alpha == 2.0f)
      for (long i = 0; i < n; i++) out[i] = x[i] * x[i];
    else if (alpha == 1.0f)
      for (long i = 0; i < n; i++) out[i] = x[i];
    else
      for (long i = 0; i < n; i++) out[i] = js_pow(x[i], alpha);
    break;
  case U_RDIV:
    for (long i = 0; i < n; i++) out[i] = alpha / x[i];
    break;
  }
}

MULTIVERSION
static void unary_backward_range(int op, const float *restrict x, const float *restrict y,
                                 const float *restrict dy, float *restrict dx, long n, float alpha) {
  switch (op) {
  case U_NEG:
    for (long i = 0; i < n; i++) dx[i] = -dy[i];
    break;
  case U_EXP:
    for (long i = 0; i < n; i++) dx[i] = dy[i] * y[i];
    break;
  case U_LOG:
    for (long i = 0; i < n; i++) dx[i] = dy[i] * (1.0f / x[i]);
    break;
  case U_SQRT:
    for (long i = 0; i < n; i++) dx[i] = dy[i] * (0.5f / y[i]);
    break;
  case U_RSQRT:
    for (long i = 0; i < n; i++) dx[i] = dy[i] * (-0.5f * y[i] * y[i] * y[i]);
    break;
  case U_TANH:
    for (long i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
    break;
  case U_SIGMOID:
    for (long i = 0; i < n; i++) dx[i] = dy[i] * (y[i] * (1.0f - y[i]));
    break;
  case U_RELU:
    for (long i = 0; i < n; i++) dx[i] = dy[i] * (x[i] > 0.0f ? 1.0f : 0.0f);
    break;
  case U_GELU:
    /* Phi(x) = y / x reuses the forward's erf (y = x Phi(x)): one exp per element instead of erfc's exp,
       division and polynomial plus the exp. Vectors with a lane near 0 (y / x loses digits), beyond
       |x| = 10 (infinities) or NaN take the direct formula. */
    {
      long i = 0;
#if WIDE_LOOPS
      const int wide = use_wide();
#else
      const int wide = 0;
#endif
      /* with 16 lanes: the wide loop up to a vector it leaves (a lane near 0, past 10 or NaN), those 16
         values here, then the wide loop again (a single 0 early in the input used to leave the rest of it
         to 8 lanes, at 1.9x the time) */
      for (long stop = n; i + 8 <= n; ) {
#if WIDE_LOOPS
        if (wide) {
          i += gelu_backward_wide(x + i, y + i, dy + i, dx + i, n - i);
          stop = i + 16 < n ? i + 16 : n;
        }
#endif
        for (; i + 8 <= stop; i += 8) {
          v8sf v = v8_load(x + i), g = v8_load(dy + i);
          v8sf av = v8_select(v < 0.0f, -v, v);
          v8si ok = (av >= 1e-6f) & (av <= 10.0f);
          if (v8_all(ok)) {
            v8sf phi_x = v * INV_SQRT_2PI * v8_exp_nonpositive(-0.5f * v * v);
            v8_store(dx + i, g * (v8_load(y + i) / v + phi_x));
          } else {
            /* rare: scalar, which also keeps the vector helpers inlined (an out-of-line call would pass
               32-byte vectors under the baseline ABI) */
            for (long l = i; l < i + 8; l++) {
              float s = x[l];
              dx[l] = dy[l] * (0.5f * fone_plus_erf(s * INV_SQRT_2) + s * INV_SQRT_2PI * fexp(-0.5f * s * s));
            }
          }
        }
        if (!wide) break;
      }
      for (; i < n; i++) {
        float s = x[i], gs = dy[i];
        dx[i] = gs * (0.5f * fone_plus_erf(s * INV_SQRT_2) + s * INV_SQRT_2PI * fexp(-0.5f * s * s));
      }
    }
    break;
  case U_GELU_TANH:
    /* with q = sigmoid(2u): 0.5 (1 + tanh u) = q and 1 - tanh^2 u = 4 q (1 - q) */
    {
      long i = 0;
      for (; i + 8 <= n; i += 8) {
        v8sf v = v8_load(x + i), g = v8_load(dy + i);
        v8sf q = v8_sigmoid((2.0f * SQRT_2_OVER_PI) * (v + 0.044715f * v * v * v));
        v8_store(dx + i, g * (q + 2.0f * v * q * (1.0f - q) * SQRT_2_OVER_PI * (1.0f + (3.0f * 0.044715f) * v * v)));
      }
      for (; i < n; i++) {
        float v = x[i];
        float q = fsigmoid(2.0f * SQRT_2_OVER_PI * (v + 0.044715f * v * v * v));
        dx[i] = dy[i] * (q + 2.0f * v * q * (1.0f - q) * SQRT_2_OVER_PI * (1.0f + 3.0f * 0.044715f * v * v));
      }
    }
    break;
  case U_SILU:
    {
      long i = 0;
      for (; i + 8 <= n; i += 8) {
        v8sf v = v8_load(x + i), q = v8_sigmoid(v);
        v8_store(dx + i, v8_load(dy + i) * (q * (1.0f + v * (1.0f - q))));
      }
      for (; i < n; i++) {
        float q = fsigmoid(x[i]);
        dx[i] = dy[i] * (q * (1.0f + x[i] * (1.0f - q)));
      }
    }
    break;
  case U_ABS:
    for (long i = 0; i < n; i++) dx[i] = dy[i] * (x[i] > 0.0f ? 1.0f : x[i] < 0.0f ? -1.0f : 0.0f);
    break;
  case U_SQUARE:
    for (long i = 0; i < n; i++) dx[i] = dy[i] * (2.0f * x[i]);
    break;
  case U_SCALE:
    for (long i = 0; i < n; i++) dx[i] = dy[i] * alpha;
    break;
  case U_SHIFT:
    for (long i = 0; i < n; i++) dx[i] = dy[i];
    break;
  case U_POW:
    for (long i = 0; i < n; i++) dx[i] = dy[i] * (alpha * js_pow(x[i], alpha - 1.0f));
    break;
  case U_RDIV:
    for (long i = 0; i < n; i++) dx[i] = dy[i] * (-alpha / (x[i] * x[i]));
    break;
  }
}

static int unary_is_costly(int op) {
  return op == U_EXP || op == U_LOG || op == U_TANH || op == U_SIGMOID || op == U_GELU || op == U_GELU_TANH ||
         op == U_SILU || op == U_POW;
}

typedef struct {
  int op;
  const float *x, *y, *dy;
  float *out;
  float alpha;
} unary_job;

static void unary_body(void *ctx, long s, long e) {
  unary_job *j = ctx;
  unary_range(j->op, j->x + s, j->out + s, e - s, j->alpha);
}

static void unary_backward_body(void *ctx, long s, long e) {
  unary_job *j = ctx;
  unary_backward_range(j->op, j->x + s, j->y + s, j->dy + s, j->out + s, e - s, j->alpha);
}

void k_unary(int op, const float *x, float *out, long n, float alpha) {
  unary_job j = {op, x, NULL, NULL, out, alpha};
  parallel_for(n, unary_is_costly(op) ? SERIAL_COSTLY : SERIAL_CHEAP, unary_body, &j);
}

void k_unary_backward(int op, const float *x, const float *y, const float *dy, float *dx, long n, float alpha) {
  unary_job j = {op, x, y, dy, dx, alpha};
  parallel_for(n, unary_is_costly(op) || op == U_GELU ? SERIAL_COSTLY : SERIAL_CHEAP, unary_backward_body, &j);
}

/* ---------- N-d strided iteration ---------- */
typedef struct {
  int nd, nops;
  long shape[ADAPTLM_MAX_DIMS];
  long st[4][ADAPTLM_MAX_DIMS];
  long total;
} nd_iter;

/* Drops size-1 axes and merges axes that are contiguous for every operand. */
static void nd_setup(nd_iter *it, const long *shape, int nd, int nops, const long *const *strides) {
  it->nops = nops;
  it->nd = 0;
  it->total = 1;
  for (int d = 0; d < nd; d++) it->total *= shape[d];
  for (int d = 0; d < nd; d++) {
    if (shape[d] == 1) continue;
    int k = it->nd;
    if (k > 0) {
      int mergeable = 1;
      for (int o = 0; o < nops; o++)
        if (it->st[o][k - 1] != strides[o][d] * shape[d]) mergeable = 0;
      if (mergeable) {
        it->shape[k - 1] *= shape[d];
        for (int o = 0; o < nops; o++) it->st[o][k - 1] = strides[o][d];
        continue;
      }
    }
    it->shape[k] = shape[d];
    for (int o = 0; o < nops; o++) it->st[o][k] = strides[o][d];
    it->nd++;
  }
  if (it->nd == 0) {
    it->nd = 1;
    it->shape[0] = 1;
    for (int o = 0; o < nops; o++) it->st[o][0] = 0;
  }
}

typedef void (*segment_fn)(void *ctx, const long *offsets, long out_index, long len);

/* Calls seg for the runs of the innermost axis covering flat (row-major) indices [start, end). */
static void nd_walk(const nd_iter *it, long start, long end, segment_fn seg, void *ctx) {
  int nd = it->nd;
  long inner = it->shape[nd - 1];
  long coord[ADAPTLM_MAX_DIMS];
  long rest = start / inner, j = start % inner;
  for (int d = nd - 2; d >= 0; d--) {
    coord[d] = rest % it->shape[d];
    rest /= it->shape[d];
  }
  long off[4];
  for (int o = 0; o < it->nops; o++) {
    off[o] = j * it->st[o][nd - 1];
    for (int d = 0; d < nd - 1; d++) off[o] += coord[d] * it->st[o][d];
  }
  long idx = start;
  while (idx < end) {
    long len = inner - j < end - idx ? inner - j : end - idx;
    seg(ctx, off, idx, len);
    idx += len;
    if (idx >= end) break;
    /* next row: back to column 0 and carry through the outer axes */
    for (int o = 0; o < it->nops; o++) off[o] -= j * it->st[o][nd - 1];
    j = 0;
    for (int d = nd - 2; d >= 0; d--) {
      coord[d]++;
      for (int o = 0; o < it->nops; o++) off[o] += it->st[o][d];
      if (coord[d] < it->shape[d]) break;
      for (int o = 0; o < it->nops; o++) off[o] -= it->st[o][d] * it->shape[d];
      coord[d] = 0;
    }
  }
}

/* ---------- binary ---------- */
typedef struct {
  nd_iter it;
  int op;
  const float *a, *b;
  float *out;
} binary_job;

#define BIN_LOOPS(EXPR)                                                                                      \
  do {                                                                                                       \
    if (sa == 1 && sb == 1) {                                                                                \
      for (long i = 0; i < n; i++) {                                                                         \
        float x = a[i], y = b[i];                                                                            \
        o[i] = (EXPR);                                                                                       \
      }                                                                                                      \
    } else if (sa == 1 && sb == 0) {                                                                         \
      float y = b[0];                                                                                        \
      for (long i = 0; i < n; i++) {                                                                         \
        float x = a[i];                                                                                      \
        o[i] = (EXPR);                                                                                       \
      }                                                                                                      \
    } else if (sa == 0 && sb == 1) {                                                                         \
      float x = a[0];                                                                                        \
      for (long i = 0; i < n; i++) {                                                                         \
        float y = b[i];                                                                                      \
        o[i] = (EXPR);                                                                                       \
      }                                                                                                      \
    } else {                                                                                                 \
      for (long i = 0; i < n; i++) {                                                                         \
        float x = a[i * sa], y = b[i * sb];                                                                  \
        o[i] = (EXPR);                                                                                       \
      }                                                                                                      \
    }                                                                                                        \
  } while (0)

MULTIVERSION
static void binary_run(int op, const float *restrict a, long sa, const float *restrict b, long sb,
                       float *restrict o, long n) {
  switch (op) {
  case B_ADD:
    BIN_LOOPS(x + y);
    break;
  case B_SUB:
    BIN_LOOPS(x - y);
    break;
  case B_MUL:
    BIN_LOOPS(x * y);
    break;
  case B_DIV:
    BIN_LOOPS(x / y);
    break;
  case B_POW:
    BIN_LOOPS(js_pow(x, y));
    break;
  case B_MAX:
    BIN_LOOPS(x >= y ? x : y);
    break;
  case B_MIN:
    BIN_LOOPS(x <= y ? x : y);
    break;
  case B_EQ:
    BIN_LOOPS(x == y ? 1.0f : 0.0f);
    break;
  case B_GT:
    BIN_LOOPS(x > y ? 1.0f : 0.0f);
    break;
  case B_LT:
    BIN_LOOPS(x < y ? 1.0f : 0.0f);
    break;
  }
}

static void binary_segment(void *ctx, const long *off, long out_index, long len) {
  binary_job *j = ctx;
  int nd = j->it.nd;
  binary_run(j->op, j->a + off[0], j->it.st[0][nd - 1], j->b + off[1], j->it.st[1][nd - 1], j->out + out_index,
             len);
}

static void binary_body(void *ctx, long s, long e) {
  binary_job *j = ctx;
  nd_walk(&j->it, s, e, binary_segment, j);
}

void k_binary(int op, const float *a, const long *as, const float *b, const long *bs, float *out,
              const long *shape, int nd) {
  binary_job j;
  const long *strides[2] = {as, bs};
  nd_setup(&j.it, shape, nd, 2, strides);
  if (j.it.total <= 0) return;
  j.op = op;
  j.a = a;
  j.b = b;
  j.out = out;
  parallel_for(j.it.total, op == B_POW ? SERIAL_COSTLY : SERIAL_CHEAP, binary_body, &j);
}

/* ---------- where ---------- */
typedef struct {
  nd_iter it;
  const void *cond;
  int cond_is_int;
  const float *a, *b;
  float *out;
} where_job;

static void where_segment(void *ctx, const long *off, long out_index, long len) {
  where_job *j = ctx;
  int nd = j->it.nd;
  long sc = j->it.st[0][nd - 1], sa = j->it.st[1][nd - 1], sb = j->it.st[2][nd - 1];
  const float *a = j->a + off[1], *b = j->b + off[2];
  float *o = j->out + out_index;
  if (j->cond_is_int) {
    const int32_t *c = (const int32_t *)j->cond + off[0];
    for (long i = 0; i < len; i++) o[i] = c[i * sc] != 0 ? a[i * sa] : b[i * sb];
  } else {
    const float *c = (const float *)j->cond + off[0];
    for (long i = 0; i < len; i++) o[i] = c[i * sc] != 0.0f ? a[i * sa] : b[i * sb];
  }
}

static void where_body(void *ctx, long s, long e) {
  where_job *j = ctx;
  nd_walk(&j->it, s, e, where_segment, j);
}

void k_where(const void *cond, int cond_is_int, const long *cs, const float *a, const long *as, const float *b,
             const long *bs, float *out, const long *shape, int nd) {
  where_job j;
  const long *strides[3] = {cs, as, bs};
  nd_setup(&j.it, shape, nd, 3, strides);
  if (j.it.total <= 0) return;
  j.cond = cond;
  j.cond_is_int = cond_is_int;
  j.a = a;
  j.b = b;
  j.out = out;
  parallel_for(j.it.total, SERIAL_CHEAP, where_body, &j);
}

/* ---------- copyStrided / fill ---------- */
typedef struct {
  nd_iter it;
  const uint32_t *src;
  uint32_t *dst;
} copy_job;

static void copy_segment(void *ctx, const long *off, long out_index, long len) {
  (void)out_index;
  copy_job *j = ctx;
  int nd = j->it.nd;
  long ss = j->it.st[0][nd - 1], ds = j->it.st[1][nd - 1];
  const uint32_t *s = j->src + off[0];
  uint32_t *d = j->dst + off[1];
  if (ss == 1 && ds == 1)
    memmove(d, s, (size_t)len * sizeof(uint32_t));
  else if (ds == 1)
    for (long i = 0; i < len; i++) d[i] = s[i * ss];
  else
    for (long i = 0; i < len; i++) d[i * ds] = s[i * ss];
}

static void copy_body(void *ctx, long s, long e) {
  copy_job *j = ctx;
  nd_walk(&j->it, s, e, copy_segment, j);
}

/* Rows [s, e) of a copy whose innermost axis is contiguous on both sides (a permute that keeps the last axis,
   e.g. splitting [batch, seq, heads, headDim] into heads): the row walk and the copy inlined. Through
   nd_walk, one callback and one memmove per 16-value run took 35 us for a 256 KB head split. */
static void copy_rows_body(void *ctx, long s, long e) {
  copy_job *j = ctx;
  const nd_iter *it = &j->it;
  int nd = it->nd;
  long inner = it->shape[nd - 1];
  long coord[ADAPTLM_MAX_DIMS];
  long rest = s, so = 0, dof = 0;
  for (int d = nd - 2; d >= 0; d--) {
    coord[d] = rest % it->shape[d];
    rest /= it->shape[d];
    so += coord[d] * it->st[0][d];
    dof += coord[d] * it->st[1][d];
  }
  for (long r = s; r < e; r++) {
    const uint32_t *sr = j->src + so;
    uint32_t *dr = j->dst + dof;
    for (long c = 0; c < inner; c++) dr[c] = sr[c];
    for (int d = nd - 2; d >= 0; d--) {
      so += it->st[0][d];
      dof += it->st[1][d];
      if (++coord[d] < it->shape[d]) break;
      so -= it->st[0][d] * it->shape[d];
      dof -= it->st[1][d] * it->shape[d];
      coord[d] = 0;
    }
  }
}

/* Transposes: dst[.., r, c] = src[.., r, c] with the source contiguous along r and the destination along c.
   Copied in 16 x 16 tiles so that both sides touch whole cache lines. Tasks are (outer index, row tile). */
static void transpose_body(void *ctx, long s, long e) {
  copy_job *j = ctx;
  const nd_iter *it = &j->it;
  int nd = it->nd;
  long R = it->shape[nd - 2], C = it->shape[nd - 1];
  long S = it->st[0][nd - 1], D = it->st[1][nd - 2];
  long tiles = (R + 15) / 16;
  for (long task = s; task < e; task++) {
    long outer = task / tiles, r0 = (task % tiles) * 16;
    long so = 0, dof = 0, rest = outer;
    for (int d = nd - 3; d >= 0; d--) {
      long coord = rest % it->shape[d];
      rest /= it->shape[d];
      so += coord * it->st[0][d];
      dof += coord * it->st[1][d];
    }
    long r1 = r0 + 16 < R ? r0 + 16 : R;
    for (long c0 = 0; c0 < C; c0 += 16) {
      long c1 = c0 + 16 < C ? c0 + 16 : C;
      for (long r = r0; r < r1; r++) {
        const uint32_t *sr = j->src + so + r;
        uint32_t *dr = j->dst + dof + r * D;
        for (long c = c0; c < c1; c++) dr[c] = sr[c * S];
      }
    }
  }
}

void k_copy_strided(const uint32_t *src, const long *ss, uint32_t *dst, const long *ds, const long *shape, int nd,
                    int same_buffer) {
  copy_job j;
  const long *strides[2] = {ss, ds};
  nd_setup(&j.it, shape, nd, 2, strides);
  if (j.it.total <= 0) return;
  j.src = src;
  j.dst = dst;
  int k = j.it.nd;
  if (!same_buffer && k >= 2 && j.it.st[0][k - 2] == 1 && j.it.st[1][k - 1] == 1 && j.it.st[0][k - 1] != 1 &&
      j.it.st[1][k - 2] != 1 && j.it.shape[k - 2] >= 16 && j.it.shape[k - 1] >= 16) {
    long tasks = (j.it.total / (j.it.shape[k - 2] * j.it.shape[k - 1])) * ((j.it.shape[k - 2] + 15) / 16);
    parallel_for(tasks, j.it.total < SERIAL_CHEAP * 4 ? tasks + 1 : 2, transpose_body, &j);
    return;
  }
  if (!same_buffer && k >= 2 && j.it.st[0][k - 1] == 1 && j.it.st[1][k - 1] == 1 && j.it.shape[k - 1] <= 256) {
    long rows = j.it.total / j.it.shape[k - 1];
    parallel_for(rows, (SERIAL_CHEAP + j.it.shape[k - 1] - 1) / j.it.shape[k - 1], copy_rows_body, &j);
    return;
  }
  /* A copy within one buffer runs on one thread, in order. */
  parallel_for(j.it.total, same_buffer ? j.it.total + 1 : SERIAL_CHEAP * 4, copy_body, &j);
}

typedef struct {
  uint32_t *out;
  uint32_t bits;
} fill_job;

static void fill_body(void *ctx, long s, long e) {
  fill_job *j = ctx;
  uint32_t *o = j->out;
  uint32_t v = j->bits;
  if (v == 0)
    memset(o + s, 0, (size_t)(e - s) * sizeof(uint32_t));
  else
    for (long i = s; i < e; i++) o[i] = v;
}

void k_fill(uint32_t *out, uint32_t bits, long n) {
  fill_job j = {out, bits};
  parallel_for(n, SERIAL_CHEAP * 4, fill_body, &j);
}

/* ---------- reductions ---------- */
typedef struct {
  int op_max;
  const float *x;
  float *out;
  int32_t *iout;
  long outer, size, inner;
} reduce_job;

/* dst[c] = x[0][c] (+ or max) x[1][c] (+ or max) ... over `rows` rows `stride` apart, for c < w, each column in
   row order. Columns are held in registers 64 at a time: accumulating into dst in memory chained every row
   through a store and a reload (a [1024, 64] bias gradient took 13-28 us instead of ~3). */
ALWAYS_INLINE v8sf v8_max_nan(v8sf v, v8sf m) { return v8_select((v > m) | (v != v), v, m); }

ALWAYS_INLINE void reduce_columns(int op_max, const float *x, long stride, long rows, float *dst, long w) {
  long c = 0;
  for (; c + 64 <= w; c += 64) {
    v8sf acc[8];
    for (int q = 0; q < 8; q++) acc[q] = v8_load(x + c + 8 * q);
    for (long r = 1; r < rows; r++) {
      const float *row = x + r * stride + c;
      if (op_max)
        for (int q = 0; q < 8; q++) acc[q] = v8_max_nan(v8_load(row + 8 * q), acc[q]);
      else
        for (int q = 0; q < 8; q++) acc[q] += v8_load(row + 8 * q);
    }
    for (int q = 0; q < 8; q++) v8_store(dst + c + 8 * q, acc[q]);
  }
  for (; c + 8 <= w; c += 8) {
    v8sf acc = v8_load(x + c);
    for (long r = 1; r < rows; r++) {
      v8sf v = v8_load(x + r * stride + c);
      acc = op_max ? v8_max_nan(v, acc) : acc + v;
    }
    v8_store(dst + c, acc);
  }
  for (; c < w; c++) {
    float acc = x[c];
    for (long r = 1; r < rows; r++) {
      float v = x[r * stride + c];
      acc = op_max ? ((v > acc || v != v) ? v : acc) : acc + v;
    }
    dst[c] = acc;
  }
}

MULTIVERSION
static void reduce_rows(int op_max, const float *x, float *out, long size, long inner, long o0, long o1) {
  for (long o = o0; o < o1; o++) {
    const float *xs = x + o * size * inner;
    float *dst = out + o * inner;
    if (inner == 1) {
      *dst = op_max ? vmax(xs, size) : vsum(xs, size);
      continue;
    }
    if (size == 0) {
      for (long j = 0; j < inner; j++) dst[j] = op_max ? -INFINITY : 0.0f;
      continue;
    }
    reduce_columns(op_max, xs, inner, size, dst, inner);
  }
}

static void reduce_body(void *ctx, long s, long e) {
  reduce_job *j = ctx;
  reduce_rows(j->op_max, j->x, j->out, j->size, j->inner, s, e);
}

/* Outer too small to share: split the inner axis instead (each task reduces a column band). */
MULTIVERSION
static void reduce_inner_range(const reduce_job *j, long s, long e) {
  for (long o = 0; o < j->outer; o++) {
    const float *xs = j->x + o * j->size * j->inner + s;
    float *dst = j->out + o * j->inner + s;
    long w = e - s;
    if (j->size == 0) {
      for (long c = 0; c < w; c++) dst[c] = j->op_max ? -INFINITY : 0.0f;
      continue;
    }
    reduce_columns(j->op_max, xs, j->inner, j->size, dst, w);
  }
}

static void reduce_band_body(void *ctx, long s, long e) {
  const reduce_job *j = ctx;
  long end = e * 64 < j->inner ? e * 64 : j->inner;
  reduce_inner_range(j, s * 64, end);
}

static long serial_rows(long cols, long elements) {
  long per = cols > 0 ? elements / cols : elements;
  return per < 2 ? 2 : per;
}

/* One reduction's rows split over tasks (outer 1): task t reduces rows [t chunk, (t + 1) chunk) into its own
   partial, task 0 straight into out. */
typedef struct {
  const reduce_job *j;
  long chunk;
  float *partial;
} reduce_split_job;

static void reduce_split_task(void *ctx, int thread, int task) {
  (void)thread;
  const reduce_split_job *job = ctx;
  const reduce_job *j = job->j;
  long r0 = task * job->chunk, r1 = r0 + job->chunk < j->size ? r0 + job->chunk : j->size;
  float *dst = task == 0 ? j->out : job->partial + (task - 1) * j->inner;
  reduce_rows(j->op_max, j->x + r0 * j->inner, dst, r1 - r0, j->inner, 0, 1);
}

void k_reduce(int op_max, const float *x, float *out, long outer, long size, long inner) {
  reduce_job j = {op_max, x, out, NULL, outer, size, inner};
  long total = outer * size * inner;
  long threads = pool_threads();
  if (outer == 1 && threads > 1 && total >= SERIAL_CHEAP && inner >= 8 && size >= 16 * threads) {
    /* A sum over many rows into one row (a bias gradient over the tokens): each thread reduces its own run
       of rows, the ones its row-split producer wrote, and the partial rows are combined in task order.
       Column bands had every thread read all rows, half of them from the other thread's cache. */
    float *partial = thread_scratch(0, 4, (size_t)((threads - 1) * inner));
    reduce_split_job job = {&j, (size + threads - 1) / threads, partial};
    if (job.partial) {
      pool_run(reduce_split_task, &job, (int)threads);
      for (long t = 1; t < threads; t++) {
        const float *part = job.partial + (t - 1) * inner;
        if (op_max)
          for (long c = 0; c < inner; c++) out[c] = (part[c] > out[c] || part[c] != part[c]) ? part[c] : out[c];
        else
          for (long c = 0; c < inner; c++) out[c] += part[c];
      }
      return;
    }
  }
  if (outer >= threads * 2 || total < SERIAL_CHEAP || inner < 64)
    parallel_for(outer, serial_rows(size * inner, SERIAL_CHEAP), reduce_body, &j);
  else
    /* bands of at least 64 columns (one register block); a [1024, 64] bias gradient runs on one thread */
    parallel_for((inner + 63) / 64, total < 2 * SERIAL_CHEAP ? inner : 0, reduce_band_body, &j);
}

static void argmax_body(void *ctx, long s, long e) {
  reduce_job *j = ctx;
  for (long o = s; o < e; o++) {
    const float *xs = j->x + o * j->size * j->inner;
    for (long c = 0; c < j->inner; c++) {
      long best = 0;
      float bv = xs[c];
      for (long r = 1; r < j->size; r++) {
        float v = xs[r * j->inner + c];
        if (v > bv) {
          bv = v;
          best = r;
        }
      }
      j->iout[o * j->inner + c] = (int32_t)best;
    }
  }
}

void k_argmax(const float *x, int32_t *out, long outer, long size, long inner) {
  reduce_job j = {0, x, NULL, out, outer, size, inner};
  if (size == 0) {
    for (long i = 0; i < outer * inner; i++) out[i] = 0;
    return;
  }
  parallel_for(outer, serial_rows(size * inner, SERIAL_CHEAP), argmax_body, &j);
}

MULTIVERSION
static double sum_squares_range(const float *x, long n) {
  double acc[8] = {0};
  long i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) acc[j] += (double)x[i + j] * (double)x[i + j];
  double s = 0;
  for (int j = 0; j < 8; j++) s += acc[j];
  for (; i < n; i++) s += (double)x[i] * (double)x[i];
  return s;
}

typedef struct {
  const float *x;
  long n, chunk;
  double *partial;
} sumsq_tasks;

static void sumsq_chunk(void *ctx, int thread, int task) {
  (void)thread;
  sumsq_tasks *j = ctx;
  long s = task * j->chunk, e = s + j->chunk < j->n ? s + j->chunk : j->n;
  j->partial[task] = s < e ? sum_squares_range(j->x + s, e - s) : 0.0;
}

double k_sum_squares(const float *x, long n) {
  int threads = pool_threads();
  if (threads == 1 || n < SERIAL_CHEAP) return sum_squares_range(x, n);
  double partial[256];
  int tasks = threads > 256 ? 256 : threads;
  sumsq_tasks j = {x, n, (n + tasks - 1) / tasks, partial};
  pool_run(sumsq_chunk, &j, tasks);
  double s = 0;
  for (int t = 0; t < tasks; t++) s += partial[t];
  return s;
}

/* ---------- softmax family ---------- */
typedef struct {
  const float *x, *y, *dy, *w, *b;
  float *out, *mean, *rstd, *dw, *db;
  long rows, cols;
  float eps;
} rows_job;

MULTIVERSION
static void softmax_rows(const float *x, float *out, long cols, long r0, long r1, int log_form) {
  for (long r = r0; r < r1; r++) {
    const float *xr = x + r * cols;
    float *o = out + r * cols;
    float m = vmax(xr, cols);
    if (log_form) {
      float lse = m + logf(exp_shift_sum(xr, m, NULL, cols));
      for (long c = 0; c < cols; c++) o[c] = xr[c] - lse;
    } else {
      float inv = 1.0f / exp_shift_sum(xr, m, o, cols);
      for (long c = 0; c < cols; c++) o[c] *= inv;
    }
  }
}

static void softmax_body(void *ctx, long s, long e) {
  rows_job *j = ctx;
  softmax_rows(j->x, j->out, j->cols, s, e, 0);
}

static void log_softmax_body(void *ctx, long s, long e) {
  rows_job *j = ctx;
  softmax_rows(j->x, j->out, j->cols, s, e, 1);
}

void k_softmax(const float *x, float *out, long rows, long cols) {
  rows_job j = {.x = x, .out = out, .rows = rows, .cols = cols};
  parallel_for(rows, serial_rows(cols, SERIAL_COSTLY), softmax_body, &j);
}

void k_log_softmax(const float *x, float *out, long rows, long cols) {
  rows_job j = {.x = x, .out = out, .rows = rows, .cols = cols};
  parallel_for(rows, serial_rows(cols, SERIAL_COSTLY), log_softmax_body, &j);
}

MULTIVERSION
static void softmax_backward_rows(const float *y, const float *dy, float *dx, long cols, long r0, long r1,
                                  int log_form) {
  for (long r = r0; r < r1; r++) {
    const float *yr = y + r * cols, *g = dy + r * cols;
    float *d = dx + r * cols;
    if (log_form) {
      float s = vsum(g, cols);
      long c = 0;
      for (; c + 8 <= cols; c += 8) v8_store(d + c, v8_load(g + c) - v8_exp(v8_load(yr + c)) * s);
      for (; c < cols; c++) d[c] = g[c] - fexp(yr[c]) * s;
    } else {
      float dot = vdot(g, yr, cols);
      for (long c = 0; c < cols; c++) d[c] = yr[c] * (g[c] - dot);
    }
  }
}

static void softmax_backward_body(void *ctx, long s, long e) {
  rows_job *j = ctx;
  softmax_backward_rows(j->y, j->dy, j->out, j->cols, s, e, 0);
}

static void log_softmax_backward_body(void *ctx, long s, long e) {
  rows_job *j = ctx;
  softmax_backward_rows(j->y, j->dy, j->out, j->cols, s, e, 1);
}

void k_softmax_backward(const float *y, const float *dy, float *dx, long rows, long cols) {
  rows_job j = {.y = y, .dy = dy, .out = dx, .rows = rows, .cols = cols};
  parallel_for(rows, serial_rows(cols, SERIAL_CHEAP), softmax_backward_body, &j);
}

void k_log_softmax_backward(const float *y, const float *dy, float *dx, long rows, long cols) {
  rows_job j = {.y = y, .dy = dy, .out = dx, .rows = rows, .cols = cols};
  parallel_for(rows, serial_rows(cols, SERIAL_COSTLY), log_softmax_backward_body, &j);
}

/* ---------- layer norm / RMS norm ---------- */
/* Rows are normalised in blocks: statistics of every row of a block first, then the outputs. A row's
   statistics are a chain (sum -> mean -> squares -> variance -> 1/sqrt) of ~100 cycles; with one row at a
   time rows of 64 columns spent most of their time waiting on it, while rows of a block are independent and
   overlap. */
#define NORM_BLOCK 16

/* mean and biased variance of x[0..cols) (two passes, as the reference computes them) */
ALWAYS_INLINE void row_mean_var(const float *xr, long cols, float *mean, float *var) {
  float mu = vsum(xr, cols) / (float)cols;
  float acc[16] = {0};
  long c = 0;
  for (; c + 16 <= cols; c += 16)
    for (int q = 0; q < 16; q++) {
      float d = xr[c + q] - mu;
      acc[q] += d * d;
    }
  float v = hsum16(acc);
  for (; c < cols; c++) v += (xr[c] - mu) * (xr[c] - mu);
  *mean = mu;
  *var = v / (float)cols;
}

/* Rows at most this wide (and a multiple of 8) take their norms' sums 8 rows at a time: one vector of partial
   sums per row and the 8 horizontal sums in one v8_hsum8. Row by row, the sum trees and scalar tails of 64-wide
   rows cost more than their loads. */
#define NORM_SHORT_ROW 128
static int norm_short_rows(long cols) { return cols % 8 == 0 && cols <= NORM_SHORT_ROW; }

/* mean and variance of the 8 rows x[0..8) (row stride cols) */
ALWAYS_INLINE void rows8_mean_var(const float *x, long cols, float *mean, float *var) {
  v8sf acc[8];
  for (int q = 0; q < 8; q++) {
    v8sf s = v8_splat(0.0f);
    for (long c = 0; c < cols; c += 8) s += v8_load(x + q * cols + c);
    acc[q] = s;
  }
  v8sf mu = v8_hsum8(acc) / (float)cols;
  for (int q = 0; q < 8; q++) {
    v8sf s = v8_splat(0.0f), m = v8_splat(mu[q]);
    for (long c = 0; c < cols; c += 8) {
      v8sf d = v8_load(x + q * cols + c) - m;
      s += d * d;
    }
    acc[q] = s;
  }
  v8_store(mean, mu);
  v8_store(var, v8_hsum8(acc) / (float)cols);
}

/* sum(g) and sum(g xhat), g = dy w, of the 8 rows [0, 8) (layer norm's backward) */
ALWAYS_INLINE void rows8_grad_sums(const float *x, const float *dy, const float *w, long cols, const float *mean,
                                   const float *rstd, float *sums_g, float *sums_gx) {
  v8sf acc_g[8], acc_gx[8];
  for (int q = 0; q < 8; q++) {
    v8sf sg = v8_splat(0.0f), sgx = sg, mu = v8_splat(mean[q]), rs = v8_splat(rstd[q]);
    for (long c = 0; c < cols; c += 8) {
      v8sf gv = v8_load(dy + q * cols + c);
      if (w) gv *= v8_load(w + c);
      sg += gv;
      sgx += gv * ((v8_load(x + q * cols + c) - mu) * rs);
    }
    acc_g[q] = sg;
    acc_gx[q] = sgx;
  }
  v8_store(sums_g, v8_hsum8(acc_g));
  v8_store(sums_gx, v8_hsum8(acc_gx));
}

MULTIVERSION
static void layer_norm_rows(const rows_job *j, long r0, long r1) {
  long cols = j->cols;
  const float *w = j->w, *b = j->b;
  for (long rb = r0; rb < r1; rb += NORM_BLOCK) {
    long re = rb + NORM_BLOCK < r1 ? rb + NORM_BLOCK : r1;
    float var[NORM_BLOCK];
    long r = rb;
    if (norm_short_rows(cols))
      for (; r + 8 <= re; r += 8) rows8_mean_var(j->x + r * cols, cols, &j->mean[r], &var[r - rb]);
    for (; r < re; r++) row_mean_var(j->x + r * cols, cols, &j->mean[r], &var[r - rb]);
    for (long r = rb; r < re; r++) j->rstd[r] = 1.0f / sqrtf(var[r - rb] + j->eps);
    for (long r = rb; r < re; r++) {
      const float *xr = j->x + r * cols;
      float *o = j->out + r * cols;
      float mu = j->mean[r], rs = j->rstd[r];
      long c;
      if (w && b)
        for (c = 0; c < cols; c++) o[c] = (xr[c] - mu) * rs * w[c] + b[c];
      else if (w)
        for (c = 0; c < cols; c++) o[c] = (xr[c] - mu) * rs * w[c];
      else if (b)
        for (c = 0; c < cols; c++) o[c] = (xr[c] - mu) * rs + b[c];
      else
        for (c = 0; c < cols; c++) o[c] = (xr[c] - mu) * rs;
    }
  }
}

static void layer_norm_body(void *ctx, long s, long e) { layer_norm_rows(ctx, s, e); }

void k_layer_norm(const float *x, const float *w, const float *b, float *out, float *mean, float *rstd, long rows,
                  long cols, float eps) {
  rows_job j = {.x = x, .w = w, .b = b, .out = out, .mean = mean, .rstd = rstd, .rows = rows, .cols = cols,
                .eps = eps};
  parallel_for(rows, serial_rows(cols, SERIAL_CHEAP / 2), layer_norm_body, &j);
}

/* dx rows: dx = rstd/cols * (cols*g - sum(g) - xhat*sum(g*xhat)), g = dy*w; the sums of a block of rows
   first, then its outputs (as in the forward). The same pass adds dy*xhat and dy of its rows into pdw and pdb
   (cols values each, NULL when not wanted): the parameter gradients' partial sums over these rows. */
MULTIVERSION
static void layer_norm_backward_rows(const rows_job *j, long r0, long r1, float *pdw, float *pdb) {
  long cols = j->cols;
  const float *w = j->w;
  for (long rb = r0; rb < r1; rb += NORM_BLOCK) {
    long re = rb + NORM_BLOCK < r1 ? rb + NORM_BLOCK : r1;
    float sums_g[NORM_BLOCK], sums_gx[NORM_BLOCK];
    long r8 = rb;
    if (norm_short_rows(cols))
      for (; r8 + 8 <= re; r8 += 8)
        rows8_grad_sums(j->x + r8 * cols, j->dy + r8 * cols, w, cols, j->mean + r8, j->rstd + r8, sums_g + (r8 - rb),
                        sums_gx + (r8 - rb));
    for (long r = r8; r < re; r++) {
      const float *xr = j->x + r * cols, *g = j->dy + r * cols;
      float mu = j->mean[r], rs = j->rstd[r];
      float sg[16] = {0}, sgx[16] = {0};
      long c = 0;
      for (; c + 16 <= cols; c += 16)
        for (int q = 0; q < 16; q++) {
          float gv = g[c + q] * (w ? w[c + q] : 1.0f);
          sg[q] += gv;
          sgx[q] += gv * (xr[c + q] - mu) * rs;
        }
      float sumg = hsum16(sg), sumgx = hsum16(sgx);
      for (; c < cols; c++) {
        float gv = g[c] * (w ? w[c] : 1.0f);
        sumg += gv;
        sumgx += gv * (xr[c] - mu) * rs;
      }
      sums_g[r - rb] = sumg;
      sums_gx[r - rb] = sumgx;
    }
    for (long r = rb; r < re; r++) {
      const float *xr = j->x + r * cols, *g = j->dy + r * cols;
      float *d = j->out + r * cols;
      float mu = j->mean[r], rs = j->rstd[r], sumg = sums_g[r - rb], sumgx = sums_gx[r - rb];
      float k = rs / (float)cols, n = (float)cols;
      if (pdw && pdb && w) {
        /* ivdep: the outputs do not overlap the inputs (without it GCC left this loop scalar); the local
           copies of the pointers measured 2-5% faster than the originals */
        const float *gr = g, *xs = xr, *ws = w;
        float *ds = d, *sdw = pdw, *sdb = pdb;
#pragma GCC ivdep
        for (long c = 0; c < cols; c++) {
          float gc = gr[c], xhat = (xs[c] - mu) * rs;
          ds[c] = k * (n * (gc * ws[c]) - sumg - xhat * sumgx);
          sdw[c] += gc * xhat;
          sdb[c] += gc;
        }
      } else
        for (long c = 0; c < cols; c++) {
          float gv = g[c] * (w ? w[c] : 1.0f);
          float xhat = (xr[c] - mu) * rs;
          d[c] = k * (n * gv - sumg - xhat * sumgx);
          if (pdw) pdw[c] += g[c] * xhat;
          if (pdb) pdb[c] += g[c];
        }
    }
  }
}


MULTIVERSION
static void rms_norm_rows(const rows_job *j, long r0, long r1) {
  long cols = j->cols;
  for (long r = r0; r < r1; r++) {
    const float *xr = j->x + r * cols;
    float *o = j->out + r * cols;
    float rs = 1.0f / sqrtf(vdot(xr, xr, cols) / (float)cols + j->eps);
    j->rstd[r] = rs;
    if (j->w)
      for (long c = 0; c < cols; c++) o[c] = xr[c] * rs * j->w[c];
    else
      for (long c = 0; c < cols; c++) o[c] = xr[c] * rs;
  }
}

static void rms_norm_body(void *ctx, long s, long e) { rms_norm_rows(ctx, s, e); }

void k_rms_norm(const float *x, const float *w, float *out, float *rstd, long rows, long cols, float eps) {
  rows_job j = {.x = x, .w = w, .out = out, .rstd = rstd, .rows = rows, .cols = cols, .eps = eps};
  parallel_for(rows, serial_rows(cols, SERIAL_CHEAP / 2), rms_norm_body, &j);
}

/* dx = rs*g - rs^3 * x * sum(g*x) / cols, g = dy*w. */
MULTIVERSION
static void rms_norm_backward_rows(const rows_job *j, long r0, long r1, float *pdw) {
  long cols = j->cols;
  const float *w = j->w;
  for (long r = r0; r < r1; r++) {
    const float *xr = j->x + r * cols, *g = j->dy + r * cols;
    float *d = j->out + r * cols;
    float rs = j->rstd[r];
    float acc[16] = {0};
    long c = 0;
    for (; c + 16 <= cols; c += 16)
      for (int q = 0; q < 16; q++) acc[q] += g[c + q] * (w ? w[c + q] : 1.0f) * xr[c + q];
    float s = hsum16(acc);
    for (; c < cols; c++) s += g[c] * (w ? w[c] : 1.0f) * xr[c];
    float k = rs * rs * rs * s / (float)cols;
    if (pdw && w) {
      const float *gr = g, *xs = xr, *ws = w;
      float *ds = d, *sdw = pdw;
#pragma GCC ivdep
      for (c = 0; c < cols; c++) {
        ds[c] = rs * gr[c] * ws[c] - k * xs[c];
        sdw[c] += gr[c] * (xs[c] * rs);
      }
    } else
      for (c = 0; c < cols; c++) {
        d[c] = rs * g[c] * (w ? w[c] : 1.0f) - k * xr[c];
        if (pdw) pdw[c] += g[c] * (xr[c] * rs);
      }
  }
}

/* Norm backward over row tasks: task t takes rows [t chunk, (t + 1) chunk) and sums its rows' parameter
   gradients into its own partial (dw then db, cols values each); the partials are added in task order after.
   Summing over columns instead had every thread read all rows of x and dy for its band of columns, half of
   them written by the other thread (1024 x 64 layer-norm backward: 2 passes over x and dy, now 1). */
typedef struct {
  const rows_job *j;
  long chunk;
  float *partial;
  int rms;
} norm_backward_job;

static void norm_backward_task(void *ctx, int thread, int task) {
  (void)thread;
  const norm_backward_job *job = ctx;
  const rows_job *j = job->j;
  long r0 = task * job->chunk, r1 = r0 + job->chunk < j->rows ? r0 + job->chunk : j->rows;
  float *pdw = j->dw ? job->partial + task * 2 * j->cols : NULL;
  float *pdb = j->db ? job->partial + task * 2 * j->cols + j->cols : NULL;
  if (pdw) memset(pdw, 0, (size_t)j->cols * sizeof(float));
  if (pdb) memset(pdb, 0, (size_t)j->cols * sizeof(float));
  if (r0 >= r1) return;
  if (job->rms) rms_norm_backward_rows(j, r0, r1, pdw);
  else layer_norm_backward_rows(j, r0, r1, pdw, pdb);
}

static void norm_backward_run(const rows_job *j, int rms) {
  long rows = j->rows, cols = j->cols;
  long tasks = pool_threads() == 1 || rows < serial_rows(cols, SERIAL_CHEAP / 2) ? 1 : pool_threads();
  if (tasks > rows) tasks = rows;
  if (tasks < 1) tasks = 1;
  norm_backward_job job = {j, (rows + tasks - 1) / tasks, NULL, rms};
  int sums = j->dw || j->db;
  /* slot 4: scratch of one call, free again when it returns */
  if (sums) job.partial = thread_scratch(0, 4, (size_t)(tasks * 2 * cols));
  if (sums && !job.partial) {
    /* no memory for partials: one serial pass that sums straight into dw and db */
    if (j->dw) memset(j->dw, 0, (size_t)cols * sizeof(float));
    if (j->db) memset(j->db, 0, (size_t)cols * sizeof(float));
    if (rms) rms_norm_backward_rows(j, 0, rows, j->dw);
    else layer_norm_backward_rows(j, 0, rows, j->dw, j->db);
    return;
  }
  pool_run(norm_backward_task, &job, (int)tasks);
  for (int which = 0; sums && which < 2; which++) {
    float *dst = which == 0 ? j->dw : j->db;
    if (!dst) continue;
    for (long c = 0; c < cols; c++) dst[c] = job.partial[which * cols + c];
    for (long t = 1; t < tasks; t++) {
      const float *part = job.partial + t * 2 * cols + which * cols;
      for (long c = 0; c < cols; c++) dst[c] += part[c];
    }
  }
}

void k_layer_norm_backward(const float *dy, const float *x, const float *w, const float *mean, const float *rstd,
                           float *dx, float *dw, float *db, long rows, long cols) {
  rows_job j = {.dy = dy, .x = x, .w = w, .mean = (float *)mean, .rstd = (float *)rstd, .out = dx, .dw = dw,
                .db = db, .rows = rows, .cols = cols};
  norm_backward_run(&j, 0);
}

void k_rms_norm_backward(const float *dy, const float *x, const float *w, const float *rstd, float *dx, float *dw,
                         long rows, long cols) {
  rows_job j = {.dy = dy, .x = x, .w = w, .rstd = (float *)rstd, .out = dx, .dw = dw, .rows = rows, .cols = cols};
  norm_backward_run(&j, 1);
}

/* ---------- embeddings ---------- */
typedef struct {
  const float *src;
  const int32_t *ids;
  float *dst;
  long count, cols;
  int32_t skip;
} rows_index_job;

static void gather_body(void *ctx, long s, long e) {
  rows_index_job *j = ctx;
  for (long i = s; i < e; i++)
    memcpy(j->dst + i * j->cols, j->src + (long)j->ids[i] * j->cols, (size_t)j->cols * sizeof(float));
}

/* Rows of x holding a value other than +-0 (Backend.nonzeroRows): each row is read until its first such value,
   32 values at a time (an OR of their bits without the sign), so a zero row costs a pass at memory speed and a
   dense one a single step. */
MULTIVERSION
long k_nonzero_rows(const float *x, long rows, long cols, long limit, int32_t *out) {
  const v8si magnitude = {0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff,
                          0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff};
  long count = 0;
  for (long r = 0; r < rows; r++) {
    const float *row = x + r * cols;
    int any = 0;
    long c = 0;
    for (; c + 32 <= cols && !any; c += 32) {
      v8si bits = ((v8si)v8_load(row + c) | (v8si)v8_load(row + c + 8) | (v8si)v8_load(row + c + 16) |
                   (v8si)v8_load(row + c + 24)) &
                  magnitude;
      any = !v8_all(bits == 0);
    }
    for (; c < cols && !any; c++) {
      uint32_t b;
      memcpy(&b, row + c, sizeof b);
      any = (b & 0x7fffffffu) != 0;
    }
    if (any) {
      if (count == limit) return limit + 1;
      out[count++] = (int32_t)r;
    }
  }
  return count;
}

void k_gather_rows(const float *table, const int32_t *ids, long count, float *out, long cols) {
  rows_index_job j = {table, ids, out, count, cols, -1};
  parallel_for(count, serial_rows(cols, SERIAL_CHEAP * 2), gather_body, &j);
}

/* Each task owns a band of columns, so rows repeated in ids never race. */
static void scatter_body(void *ctx, long s, long e) {
  rows_index_job *j = ctx;
  for (long i = 0; i < j->count; i++) {
    if (j->ids[i] == j->skip) continue;
    const float *g = j->src + i * j->cols;
    float *d = j->dst + (long)j->ids[i] * j->cols;
    for (long c = s; c < e; c++) d[c] += g[c];
  }
}

void k_scatter_add_rows(const float *dout, const int32_t *ids, long count, float *dtable, long cols, int32_t skip) {
  rows_index_job j = {dout, ids, dtable, count, cols, skip};
  parallel_for(cols, count * cols < SERIAL_CHEAP ? cols + 1 : 64, scatter_body, &j);
}

/* ---------- cross-entropy ---------- */
typedef struct {
  const float *logits, *lse_in, *dloss;
  const int32_t *targets;
  float *losses, *lse, *dlogits;
  long rows, cols;
  int32_t ignore;
} ce_job;

MULTIVERSION
static void cross_entropy_rows(const ce_job *j, long r0, long r1) {
  long cols = j->cols;
  for (long r = r0; r < r1; r++) {
    const float *x = j->logits + r * cols;
    float m = vmax(x, cols);
    float l = m + logf(exp_shift_sum(x, m, NULL, cols));
    j->lse[r] = l;
    int32_t t = j->targets[r];
    j->losses[r] = t == j->ignore ? 0.0f : l - x[t];
  }
}

static void cross_entropy_body(void *ctx, long s, long e) { cross_entropy_rows(ctx, s, e); }

void k_cross_entropy(const float *logits, const int32_t *targets, float *losses, float *lse, long rows, long cols,
                     int32_t ignore) {
  ce_job j = {.logits = logits, .targets = targets, .losses = losses, .lse = lse, .rows = rows, .cols = cols,
              .ignore = ignore};
  parallel_for(rows, serial_rows(cols, SERIAL_COSTLY), cross_entropy_body, &j);
}

MULTIVERSION
static void cross_entropy_backward_rows(const ce_job *j, long r0, long r1) {
  long cols = j->cols;
  for (long r = r0; r < r1; r++) {
    float *d = j->dlogits + r * cols;
    int32_t t = j->targets[r];
    if (t == j->ignore) {
      memset(d, 0, (size_t)cols * sizeof(float));
      continue;
    }
    const float *x = j->logits + r * cols;
    float l = j->lse_in[r], g = j->dloss[r];
    exp_shift_sum(x, l, d, cols);
    for (long c = 0; c < cols; c++) d[c] *= g;
    if (t >= 0 && t < cols) d[t] = g * (fexp(x[t] - l) - 1.0f);
  }
}

static void cross_entropy_backward_body(void *ctx, long s, long e) { cross_entropy_backward_rows(ctx, s, e); }

void k_cross_entropy_backward(const float *logits, const int32_t *targets, const float *lse, const float *dloss,
                              float *dlogits, long rows, long cols, int32_t ignore) {
  ce_job j = {.logits = logits, .targets = targets, .lse_in = lse, .dloss = dloss, .dlogits = dlogits,
              .rows = rows, .cols = cols, .ignore = ignore};
  parallel_for(rows, serial_rows(cols, SERIAL_COSTLY), cross_entropy_backward_body, &j);
}

/* ---------- RoPE ---------- */
typedef struct {
  const float *x;
  float *out;
  const int32_t *positions;
  const double *inv_freq;
  long batch, heads, seq, head_dim;
  int inverse;
} rope_job;

/* One task per (batch, position): the angles are computed once (in double) and applied to every head. */
static void rope_body(void *ctx, long s, long e) {
  rope_job *j = ctx;
  long half = j->head_dim / 2;
  float *cs = thread_scratch(0, 2, (size_t)(2 * half + 1));
  float *sn = cs + half;
  int have = 0;
  int32_t cached = 0;
  for (long bt = s; bt < e; bt++) {
    long b = bt / j->seq, t = bt % j->seq;
    /* a decoding step's rows all sit at one position: its angles are computed once (sincos was 5% of a
       20-sample step) */
    if (!have || j->positions[bt] != cached) {
      cached = j->positions[bt];
      have = 1;
      double pos = (double)cached;
      for (long i = 0; i < half; i++) {
        double angle = pos * j->inv_freq[i];
        cs[i] = (float)cos(angle);
        sn[i] = (float)(j->inverse ? -sin(angle) : sin(angle));
      }
    }
    for (long h = 0; h < j->heads; h++) {
      long base = ((b * j->heads + h) * j->seq + t) * j->head_dim;
      const float *x = j->x + base;
      float *o = j->out + base;
      for (long i = 0; i < half; i++) {
        float x1 = x[i], x2 = x[i + half];
        o[i] = x1 * cs[i] - x2 * sn[i];
        o[i + half] = x2 * cs[i] + x1 * sn[i];
      }
    }
  }
}

void k_rope(const float *x, float *out, const int32_t *positions, const double *inv_freq, long batch, long heads,
            long seq, long head_dim, int inverse) {
  rope_job j = {x, out, positions, inv_freq, batch, heads, seq, head_dim, inverse};
  parallel_for(batch * seq, serial_rows(heads * head_dim, SERIAL_CHEAP / 4), rope_body, &j);
}

/* ---------- attention ---------- */
/* Masks (causal, key bias) and normalises one head's scores in place: probs = softmax(scores + bias).
   Rows go in blocks, one stage at a time over the block (masks and maxima, then exps and sums, then the
   division): a row's own stages are a serial chain (max -> exp -> sum -> 1/sum), and with rows of 64 keys
   (head size 16) doing one row at a time spent about three times the exps' own cost waiting on it. */
#define SOFTMAX_BLOCK 16
MULTIVERSION
static void attention_softmax_rows(float *p, long tq, long tk, float scale, const float *bias, int causal,
                                   long offset, long window, long shared) {
  /* without a key bias the scale goes into the exps (exp_shift_scale_sum) instead of a pass of its own */
  const int fold = !bias && scale > 0.0f && scale < INFINITY;
#if WIDE_LOOPS
  const int wide = use_wide();
#endif
  for (long i0 = 0; i0 < tq; i0 += SOFTMAX_BLOCK) {
    long rows = tq - i0 < SOFTMAX_BLOCK ? tq - i0 : SOFTMAX_BLOCK;
    long firsts[SOFTMAX_BLOCK], counts[SOFTMAX_BLOCK];
    float maxima[SOFTMAX_BLOCK], sums[SOFTMAX_BLOCK];
    for (long r = 0; r < rows; r++) {
      long i = i0 + r;
      long visible = tk, first = 0;
      if (causal) {
        /* own keys j <= last are visible (columns shared + j), shared columns always */
        long last = i + offset, own = tk - shared;
        visible = shared + (last + 1 < 0 ? 0 : (last + 1 > own ? own : last + 1));
        /* sliding window: keys j > last - window (never with shared keys: the op forbids both) */
        if (window > 0 && last - window + 1 > 0) first = last - window + 1 < visible ? last - window + 1 : visible;
      }
      firsts[r] = first;
      counts[r] = visible - first;
      if (counts[r] <= 0) continue;
      float *seen = p + i * tk + first;
      long count = counts[r];
      if (bias)
        for (long c = 0; c < count; c++) seen[c] = seen[c] * scale + bias[first + c];
      else if (!fold)
        for (long c = 0; c < count; c++) seen[c] *= scale;
      maxima[r] = vmax(seen, count);
    }
    for (long r = 0; r < rows; r++)
      if (counts[r] > 0) {
        float *seen = p + (i0 + r) * tk + firsts[r];
        /* scale 1 (scores scaled above): (x - m) * 1 is x - m, exp_shift_sum's terms */
        float s = fold ? scale : 1.0f;
#if WIDE_LOOPS
        if (wide)
          sums[r] = exp_shift_scale_sum_wide(seen, maxima[r], s, seen, counts[r]);
        else
#endif
          sums[r] = exp_shift_scale_sum(seen, maxima[r], s, seen, counts[r]);
      }
    for (long r = 0; r < rows; r++) {
      float *row = p + (i0 + r) * tk;
      /* no key visible (0/0), sum 0 (every visible score -inf) or NaN: the reference's NaN row */
      float inv = counts[r] > 0 ? 1.0f / sums[r] : NAN;
      if (!(inv < INFINITY)) {
        for (long c = 0; c < tk; c++) row[c] = NAN;
        continue;
      }
      long first = firsts[r], visible = first + counts[r];
      for (long c = first; c < visible; c++) row[c] *= inv;
      for (long c = 0; c < first; c++) row[c] = 0.0f;      /* outside the window */
      for (long c = visible; c < tk; c++) row[c] = 0.0f; /* masked keys */
    }
  }
}

/* One query row (a decoding step): scores[j] = q . k_j for j < n, four keys per pass with 8-lane partial sums
   (q stays in registers). The GEMM path spent most of this in per-key reductions and call overhead. */
MULTIVERSION
static void decode_scores(const float *q, const float *k, const float *v, long n, long d, long ks, float *scores) {
  long j = 0;
  if (d % 8 == 0) {
    for (; j + 4 <= n; j += 4) {
      const float *k0 = k + j * ks, *k1 = k0 + ks, *k2 = k1 + ks, *k3 = k2 + ks;
      /* the values of these keys, for decode_weighted_sum right after */
      for (long r = 0; r < 4; r++)
        for (long off = 0; off < d; off += 16) __builtin_prefetch(v + (j + r) * ks + off);
      v8sf a0 = v8_splat(0.0f), a1 = a0, a2 = a0, a3 = a0;
      for (long p = 0; p < d; p += 8) {
        v8sf qv = v8_load(q + p);
        a0 += qv * v8_load(k0 + p);
        a1 += qv * v8_load(k1 + p);
        a2 += qv * v8_load(k2 + p);
        a3 += qv * v8_load(k3 + p);
      }
      scores[j] = v8_hsum(a0);
      scores[j + 1] = v8_hsum(a1);
      scores[j + 2] = v8_hsum(a2);
      scores[j + 3] = v8_hsum(a3);
    }
  }
  for (; j < n; j++) {
    float acc = 0.0f;
    for (long p = 0; p < d; p++) acc += q[p] * k[j * ks + p];
    scores[j] = acc;
  }
}

/* out[0..d) (+)= sum_j probs[j] v_j over j < n, the row accumulated in registers when it fits (d <= 128). */
MULTIVERSION
static void decode_weighted_sum(const float *probs, const float *v, long n, long d, long vs, float *out,
                                int accumulate) {
  if (d % 8 == 0 && d <= 128) {
    v8sf acc[16];
    long lanes = d / 8;
    for (long c = 0; c < lanes; c++) acc[c] = accumulate ? v8_load(out + 8 * c) : v8_splat(0.0f);
    for (long j = 0; j < n; j++) {
      v8sf pj = v8_splat(probs[j]);
      const float *vj = v + j * vs;
      for (long c = 0; c < lanes; c++) acc[c] += pj * v8_load(vj + 8 * c);
    }
    for (long c = 0; c < lanes; c++) v8_store(out + 8 * c, acc[c]);
    return;
  }
  if (!accumulate)
    for (long c = 0; c < d; c++) out[c] = 0.0f;
  for (long j = 0; j < n; j++)
    for (long c = 0; c < d; c++) out[c] += probs[j] * v[j * vs + c];
}

/* Element strides [batch, head, position] of an operand with `heads` heads and `positions` positions per head
   (backend.ts attentionStrides): [batch, heads, positions, d] blocks, or token rows [batch, positions, heads,
   d] when `tokens`. */
static void attention_strides(int tokens, long heads, long positions, long d, long st[3]) {
  if (tokens) {
    st[0] = positions * heads * d;
    st[1] = d;
    st[2] = heads * d;
  } else {
    st[0] = heads * positions * d;
    st[1] = positions * d;
    st[2] = d;
  }
}

/* Task t is (batch row t / heads, head t % heads): the pool gives each thread a contiguous range of tasks,
   and so whole batch rows, the rows its share of the projections before wrote. In the token layout one
   row holds every head: when the two threads of a shared task counter took turns on the heads of one row,
   they ran no faster than one (BERT-tiny shapes: 64 (batch, head) tasks of 64 rows of 16 floats). */
static void attention_task_coords(long task, long heads, long *b, long *h) {
  *b = task / heads;
  *h = task % heads;
}

static void attention_task(void *ctx, int thread, int task) {
  const attention_args *a = ctx;
  long b, h;
  attention_task_coords(task, a->heads, &b, &h);
  long group = a->heads / a->kv_heads, g = h / group, d = a->d;
  long qs[3], ks[3];
  attention_strides(a->tokens, a->heads, a->tq, d, qs);
  attention_strides(a->tokens, a->kv_heads, a->kv_stride, d, ks);
  const long qr = qs[2], kr = ks[2]; /* row strides: of q and out, of k and v */
  const float *q = a->q + b * qs[0] + h * qs[1];
  const float *k = a->k + b * ks[0] + g * ks[1];
  const float *v = a->v + b * ks[0] + g * ks[1];
  /* shared keys (none when shared_len is 0) fill the first s columns of each probability row */
  const long s = a->shared_len, width = s + a->tk;
  const float *sk = s ? a->shared_k + g * s * d : NULL, *sv = s ? a->shared_v + g * s * d : NULL;
  float *p = a->probs + (b * a->heads + h) * a->tq * width;
  float *o = a->out + b * qs[0] + h * qs[1];
  long tq = a->tq, tk = a->tk;
  const float *bias = a->key_bias ? a->key_bias + b * tk : NULL;
  /* Causal attention runs in blocks of query rows, each computing only the keys its last row may see:
     about half the work for a square mask. */
  long block = a->causal ? 64 : tq;
  for (long i0 = 0; i0 < tq; i0 += block) {
    long rows = tq - i0 < block ? tq - i0 : block;
    long limit = tk;
    if (a->causal) {
      long last = i0 + rows - 1 + a->causal_offset;
      limit = last + 1 < 0 ? 0 : (last + 1 > tk ? tk : last + 1);
    }
    float *pr = p + i0 * width;
    /* scores = Q K^T  [rows, limit] (the softmax scales them and masks columns from limit on); alpha 1
       lets the GEMM read Q in place instead of packing a scaled copy. One row (a decoding step) skips the
       GEMM's per-call and per-key reduction costs. */
    if (rows == 1) {
      if (s) decode_scores(q + i0 * qr, sk, sv, s, d, d, pr);
      decode_scores(q + i0 * qr, k, v, limit, d, kr, pr + s);
    } else {
      if (s) gemm_serial(thread, (int)rows, (int)s, (int)d, 1.0f, q + i0 * qr, qr, 1, sk, 1, d, 0.0f, pr, width);
      if (limit > 0)
        gemm_serial(thread, (int)rows, (int)limit, (int)d, 1.0f, q + i0 * qr, qr, 1, k, 1, kr, 0.0f, pr + s,
                    width);
    }
    attention_softmax_rows(pr, rows, width, a->scale, bias, a->causal, a->causal_offset + i0, a->window, s);
    /* out = P V  [rows, d]; probabilities past limit are 0 (all keys when no key is visible: the rows are
       NaN then, as in the reference) */
    long used = limit > 0 || s ? limit : tk;
    if (rows == 1) {
      /* keys of the next (batch, head), which this thread likely takes next: a decoding step reads each
         layer's cache once, mostly from L3. With both prefetches a 20-sample decode of lab-decoder-s
         (4 heads, ~50 keys) took 65-84 us per attention call instead of 90-99 (2 threads, Zen 3). */
      if (tq == 1 && task + 1 < a->batch * a->heads) {
        long nb, nh;
        attention_task_coords(task + 1, a->heads, &nb, &nh);
        long ng = nh / group;
        const float *kn = a->k + nb * ks[0] + ng * ks[1];
        for (long j = 0; j < used; j++)
          for (long off = 0; off < d; off += 16) __builtin_prefetch(kn + j * kr + off);
      }
      if (s) decode_weighted_sum(pr, sv, s, d, d, o + i0 * qr, 0);
      decode_weighted_sum(pr + s, v, used, d, kr, o + i0 * qr, s > 0);
    } else {
      if (s) gemm_serial(thread, (int)rows, (int)d, (int)s, 1.0f, pr, width, 1, sv, d, 1, 0.0f, o + i0 * qr, qr);
      gemm_serial(thread, (int)rows, (int)d, (int)used, 1.0f, pr + s, width, 1, v, kr, 1, s ? 1.0f : 0.0f,
                  o + i0 * qr, qr);
    }
  }
}

void k_attention(const attention_args *a) {
  long tasks = a->batch * a->heads;
  if (tasks <= 0) return;
  double work = (double)tasks * a->tq * (a->shared_len + a->tk) * a->d;
  if (work < 32768.0 || pool_threads() == 1)
    for (long t = 0; t < tasks; t++) attention_task((void *)a, 0, (int)t);
  else
    pool_run(attention_task, (void *)a, (int)tasks);
}

MULTIVERSION
static void attention_dscores(float *ds, long ldds, const float *p, long ldp, long rows, long width,
                              float scale) {
  /* ds holds dP on entry; scale dS = scale P * (dP - rowsum(dP * P)) over the first `width` columns (the
     scale here lets the dQ and dK products read dS in place, alpha 1, instead of packing a scaled copy) */
  for (long i = 0; i < rows; i++) {
    float *r = ds + i * ldds;
    const float *pr = p + i * ldp;
    float dot = vdot(r, pr, width);
    for (long c = 0; c < width; c++) r[c] = (pr[c] * (r[c] - dot)) * scale;
  }
}

/* Keys past the last non-zero probability of rows [i0, i0 + rows) (causal masks, trailing padding)
   contribute nothing to any gradient: the backward pass computes only the first `limit` columns. */
static long attention_key_limit(const float *p, long tk, long i0, long rows) {
  long limit = 0;
  for (long i = i0; i < i0 + rows; i++) {
    const float *row = p + i * tk;
    long j = tk;
    while (j > limit && row[j - 1] == 0.0f) j--; /* NaN != 0: kept */
    if (j > limit) limit = j;
  }
  return limit;
}

#define ATTENTION_ROW_BLOCK 64

/* One task per (batch, kv head): it owns dK and dV of that head and sums over its query-head group. */
static void attention_backward_task(void *ctx, int thread, int task) {
  const attention_args *a = ctx;
  long b, g;
  attention_task_coords(task, a->kv_heads, &b, &g);
  long group = a->heads / a->kv_heads, d = a->d, tq = a->tq, tk = a->tk;
  long qs[3], ks[3];
  attention_strides(a->tokens, a->heads, tq, d, qs);
  attention_strides(a->tokens, a->kv_heads, tk, d, ks);
  const long qr = qs[2], kr = ks[2];
  const float *k = a->k + b * ks[0] + g * ks[1];
  const float *v = a->v + b * ks[0] + g * ks[1];
  float *dk = a->dk + b * ks[0] + g * ks[1];
  float *dv = a->dv + b * ks[0] + g * ks[1];
  /* dK and dV sum over the group's heads and row blocks: the first product writes them (beta 0) when it
     covers every key, else they start from zeros */
  int written = 0;
  long blocks = (tq + ATTENTION_ROW_BLOCK - 1) / ATTENTION_ROW_BLOCK;
  float *ds = thread_scratch(thread, 3, (size_t)(tq * tk + 1));
  for (long r = 0; r < group; r++) {
    long h = g * group + r;
    const float *q = a->q + b * qs[0] + h * qs[1];
    const float *p = a->probs + (b * a->heads + h) * tq * tk;
    const float *dout = a->dout + b * qs[0] + h * qs[1];
    float *dq = a->dq + b * qs[0] + h * qs[1];
    /* Row blocks only pay off when some block can drop keys; otherwise one block of all rows. */
    int trimmed = 0;
    for (long blk = 0; blk < blocks && !trimmed; blk++) {
      long i0 = blk * ATTENTION_ROW_BLOCK, rows = tq - i0 < ATTENTION_ROW_BLOCK ? tq - i0 : ATTENTION_ROW_BLOCK;
      trimmed = attention_key_limit(p, tk, i0, rows) < tk;
    }
    long block = trimmed ? ATTENTION_ROW_BLOCK : tq;
    if (!written && trimmed) {
      for (long j = 0; j < tk; j++) {
        memset(dk + j * kr, 0, (size_t)d * sizeof(float));
        memset(dv + j * kr, 0, (size_t)d * sizeof(float));
      }
      written = 1;
    }
    for (long i0 = 0; i0 < tq; i0 += block) {
      long rows = tq - i0 < block ? tq - i0 : block;
      long limit = trimmed ? attention_key_limit(p, tk, i0, rows) : tk;
      if (limit == 0) {
        for (long i = i0; i < i0 + rows; i++) memset(dq + i * qr, 0, (size_t)d * sizeof(float));
        continue;
      }
      const float *pb = p + i0 * tk;
      /* dP = dOut V^T  [rows, limit] */
      gemm_serial(thread, (int)rows, (int)limit, (int)d, 1.0f, dout + i0 * qr, qr, 1, v, 1, kr, 0.0f, ds, limit);
      attention_dscores(ds, limit, pb, tk, rows, limit, a->scale);
      /* dQ = scale dS K  [rows, d] */
      gemm_serial(thread, (int)rows, (int)d, (int)limit, 1.0f, ds, limit, 1, k, kr, 1, 0.0f, dq + i0 * qr, qr);
      /* dK += scale dS^T Q  [limit, d] (limit is tk here unless trimmed, and then dK started from zeros) */
      float beta = written ? 1.0f : 0.0f;
      gemm_serial(thread, (int)limit, (int)d, (int)rows, 1.0f, ds, 1, limit, q + i0 * qr, qr, 1, beta, dk, kr);
      /* dV += P^T dOut  [limit, d] */
      gemm_serial(thread, (int)limit, (int)d, (int)rows, 1.0f, pb, 1, tk, dout + i0 * qr, qr, 1, beta, dv, kr);
      written = 1;
    }
  }
  if (!written)
    /* no query rows */
    for (long j = 0; j < tk; j++) {
      memset(dk + j * kr, 0, (size_t)d * sizeof(float));
      memset(dv + j * kr, 0, (size_t)d * sizeof(float));
    }
}

void k_attention_backward(const attention_args *a) {
  long tasks = a->batch * a->kv_heads;
  if (tasks <= 0) return;
  double work = (double)a->batch * a->heads * a->tq * a->tk * a->d;
  if (work < 32768.0 || pool_threads() == 1)
    for (long t = 0; t < tasks; t++) attention_backward_task((void *)a, 0, (int)t);
  else
    pool_run(attention_backward_task, (void *)a, (int)tasks);
}

/* ---------- AdamW ---------- */
typedef struct {
  const adamw_tensor *tensors;
  const long (*pieces)[3]; /* tensor, first value, end */
  double bc1;
  float b1, one_minus_b1, b2, one_minus_b2, inv_bc2, eps;
} adamw_job;

MULTIVERSION
static void adamw_range(const adamw_job *j, const adamw_tensor *t, long s, long e) {
  float *restrict p = t->param, *restrict m = t->m, *restrict v = t->v;
  const float *restrict g = t->grad;
  const float decay = (float)(1.0 - t->lr * t->weight_decay), step_size = (float)(t->lr / j->bc1);
  for (long i = s; i < e; i++) {
    float gi = g[i];
    float mi = j->b1 * m[i] + j->one_minus_b1 * gi;
    float vi = j->b2 * v[i] + j->one_minus_b2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - step_size * (mi / (sqrtf(vi * j->inv_bc2) + j->eps));
  }
}

static void adamw_task(void *ctx, int thread, int task) {
  (void)thread;
  const adamw_job *j = ctx;
  const long *piece = j->pieces[task];
  adamw_range(j, &j->tensors[piece[0]], piece[1], piece[2]);
}

/* Values per piece: a sqrt and a division each, so a piece is a few microseconds of one thread. */
#define ADAMW_PIECE 8192L

void k_adamw(const adamw_tensor *tensors, long count, double beta1, double beta2, double eps, double step) {
  adamw_job j = {tensors,
                 NULL,
                 1.0 - pow(beta1, step),
                 (float)beta1,
                 (float)(1.0 - beta1),
                 (float)beta2,
                 (float)(1.0 - beta2),
                 (float)(1.0 / (1.0 - pow(beta2, step))),
                 (float)eps};
  long total = 0, npieces = 0;
  for (long t = 0; t < count; t++) {
    total += tensors[t].n;
    npieces += (tensors[t].n + ADAMW_PIECE - 1) / ADAMW_PIECE;
  }
  long(*pieces)[3] = total >= SERIAL_COSTLY && pool_threads() > 1 ? malloc((size_t)npieces * sizeof *pieces) : NULL;
  if (!pieces) {
    for (long t = 0; t < count; t++) adamw_range(&j, &tensors[t], 0, tensors[t].n);
    return;
  }
  /* every tensor in pieces of ADAMW_PIECE values (a multiple of 16: whole cache lines), claimed across the
     pool: the many small tensors of a model (biases, norms) no longer run one call each on one thread */
  long q = 0;
  for (long t = 0; t < count; t++)
    for (long s = 0; s < tensors[t].n; s += ADAMW_PIECE) {
      pieces[q][0] = t;
      pieces[q][1] = s;
      pieces[q][2] = s + ADAMW_PIECE < tensors[t].n ? s + ADAMW_PIECE : tensors[t].n;
      q++;
    }
  j.pieces = (const long(*)[3])pieces;
  pool_run(adamw_task, &j, (int)npieces);
  free(pieces);
}

/* ---------- next-token sampling (see SampleRowsArgs in src/backend/backend.ts) ---------- */
typedef double v4df __attribute__((vector_size(32), aligned(8)));
typedef float v4sf __attribute__((vector_size(16), aligned(4)));

typedef struct {
  const float *logits;
  const double *uniforms;
  int32_t *tokens;
  double *lse;
  long rows, cols;
  double temperature;
} sample_job;

#define SAMPLE_BLOCK 64

/* float32 lanes summed in float64 */
ALWAYS_INLINE double v8_sum_wide(v8sf v) {
  v4sf lo, hi;
  memcpy(&lo, &v, sizeof lo);
  memcpy(&hi, (const float *)&v + 4, sizeof hi);
  v4df s = __builtin_convertvector(lo, v4df) + __builtin_convertvector(hi, v4df);
  return (s[0] + s[1]) + (s[2] + s[3]);
}

/* The terms e = exp(scale * x - shift) of one row in float32 (v8_exp, ~2 ulp), kept in w when w is given;
   returns their sum in float64 and, when blocks is given, the sums of each SAMPLE_BLOCK ids (the inverse
   CDF walks these first). Each block sums in float32 lanes of 8 terms, then in float64. */
MULTIVERSION
static double sample_terms(const float *x, long cols, float scale, float shift, float *w, double *blocks) {
  const v8sf sv = v8_splat(scale), hv = v8_splat(shift);
  double sum = 0;
  for (long i0 = 0, b = 0; i0 < cols; i0 += SAMPLE_BLOCK, b++) {
    long end = i0 + SAMPLE_BLOCK < cols ? i0 + SAMPLE_BLOCK : cols, i = i0;
    v8sf acc = v8_splat(0.0f);
    for (; i + 8 <= end; i += 8) {
      /* x <= max: at most a rounding above 0, where both exps agree */
      v8sf e = v8_exp_nonpositive(v8_load(x + i) * sv - hv);
      if (w) v8_store(w + i, e);
      acc += e;
    }
    double block = v8_sum_wide(acc);
    for (; i < end; i++) {
      float e = v8_exp(v8_splat(x[i] * scale - shift))[0];
      if (w) w[i] = e;
      block += e;
    }
    if (blocks) blocks[b] = block;
    sum += block;
  }
  return sum;
}

/* The terms are float32 exps: the logits are float32 and already differ between backends by more than
   that (GEMM summation order), and float64 exps made this kernel most of a 20-sample decoding step's
   non-GEMM time. lse is then within a few float32 ulps of the float64 log-sum-exp. */
MULTIVERSION
static void sample_rows(const sample_job *j, long r0, long r1) {
  const long cols = j->cols, nblocks = (cols + SAMPLE_BLOCK - 1) / SAMPLE_BLOCK;
  const double t = j->temperature;
  const int sampling = t > 0;
  /* tempered weights of one row and their sums per SAMPLE_BLOCK ids, so the inverse CDF walk needs no exp */
  float *weights = sampling ? malloc((size_t)cols * sizeof(float)) : NULL;
  double *blocks = sampling ? malloc((size_t)nblocks * sizeof(double)) : NULL;
  for (long r = r0; r < r1; r++) {
    const float *x = j->logits + r * cols;
    /* max skipping NaN (`if (x > max) max = x`) */
    v8sf m8 = v8_splat(-INFINITY);
    long i = 0;
    for (; i + 8 <= cols; i += 8) {
      v8sf v = v8_load(x + i);
      m8 = v8_select(v > m8, v, m8);
    }
    float mf = -INFINITY;
    for (int q = 0; q < 8; q++) mf = m8[q] > mf ? m8[q] : mf;
    for (; i < cols; i++) mf = x[i] > mf ? x[i] : mf;
    /* at temperature 1 the tempered weights are these very terms: keep them */
    int keep = t == 1.0;
    double sum = sample_terms(x, cols, 1.0f, mf, keep ? weights : NULL, keep ? blocks : NULL);
    j->lse[r] = (double)mf + log(sum);
    if (!sampling) {
      /* `best = 0; if (x[c] > x[best]) best = c`: the first index of the NaN-skipping max, 0 when x[0] is NaN */
      long best = 0;
      if (x[0] == x[0])
        while (best < cols - 1 && x[best] != mf) best++;
      j->tokens[r] = (int32_t)best;
      continue;
    }
    /* x / t as x * (1 / t) in float32: monotone, so the largest logit keeps the largest tempered value */
    const float inv = (float)(1.0 / t);
    double total = keep ? sum : sample_terms(x, cols, inv, mf * inv, weights, blocks);
    /* inverse CDF in id order: the first id whose cumulative weight reaches u * total, found block by block */
    double left = j->uniforms[r] * total;
    long token = cols - 1, b = 0, c = 0;
    for (; b < nblocks - 1 && left - blocks[b] > 0; b++) left -= blocks[b];
    for (c = SAMPLE_BLOCK * b; c < cols; c++) {
      left -= weights[c];
      if (left <= 0) {
        token = c;
        break;
      }
    }
    j->tokens[r] = (int32_t)token;
  }
  free(weights);
  free(blocks);
}

static void sample_body(void *ctx, long s, long e) { sample_rows(ctx, s, e); }

void k_sample_rows(const float *logits, const double *uniforms, int32_t *tokens, double *lse, long rows, long cols,
                   double temperature) {
  sample_job j = {logits, uniforms, tokens, lse, rows, cols, temperature};
  parallel_for(rows, serial_rows(cols, SERIAL_COSTLY), sample_body, &j);
}
