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
