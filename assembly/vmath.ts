// Vectorised float32 transcendental functions (f32x4), Cephes-style range reduction and polynomials:
// about 1-2 ulp for exp/log/tanh, ~1e-7 relative for erfc (Numerical Recipes' erfcc Chebyshev fit).

// @ts-ignore: decorator
@inline function splat(x: f32): v128 {
  return f32x4.splat(x);
}

// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  return f32x4.add(f32x4.mul(a, b), c);
}

/** e^x for each lane. */
export function vexp(x: v128): v128 {
  const hiLimit = splat(88.72283935546875);
  const loLimit = splat(-87.33654022216797);
  const xc = f32x4.max(f32x4.min(x, hiLimit), loLimit);
  // n = round(x / ln 2)
  const fx = f32x4.floor(madd(xc, splat(1.44269504088896341), splat(0.5)));
  // r = x - n ln 2 in two parts for accuracy
  let r = f32x4.sub(xc, f32x4.mul(fx, splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(fx, splat(-2.12194440e-4)));
  const z = f32x4.mul(r, r);
  let y = splat(1.9875691500e-4);
  y = madd(y, r, splat(1.3981999507e-3));
  y = madd(y, r, splat(8.3334519073e-3));
  y = madd(y, r, splat(4.1665795894e-2));
  y = madd(y, r, splat(1.6666665459e-1));
  y = madd(y, r, splat(5.0000001201e-1));
  y = f32x4.add(madd(y, z, r), splat(1));
  // 2^n built in the exponent bits; n is in [-126, 128] after the clamp
  const n = i32x4.trunc_sat_f32x4_s(fx);
  // split 2^n into two factors so that n = 128 does not overflow the exponent field before the multiply
  const n1 = i32x4.shr_s(n, 1);
  const n2 = i32x4.sub(n, n1);
  const p1 = i32x4.shl(i32x4.add(n1, i32x4.splat(127)), 23);
  const p2 = i32x4.shl(i32x4.add(n2, i32x4.splat(127)), 23);
  let result = f32x4.mul(f32x4.mul(y, p1), p2);
  // beyond the limits: 0 below, +inf above (NaN passes through the arithmetic above)
  result = v128.bitselect(splat(0), result, f32x4.lt(x, loLimit));
  result = v128.bitselect(splat(Infinity), result, f32x4.gt(x, hiLimit));
  return result;
}

/** Natural logarithm for each lane (NaN below 0, -inf at 0). Denormal inputs are treated approximately. */
export function vlog(x: v128): v128 {
  const bits = x;
  let e = i32x4.sub(i32x4.shr_u(bits, 23), i32x4.splat(126));
  let m = v128.or(v128.and(bits, i32x4.splat(0x807fffff)), i32x4.splat(0x3f000000)); // mantissa in [0.5, 1)
  const small = f32x4.lt(m, splat(0.707106781186547524));
  // if m < sqrt(1/2): e -= 1, m = 2m - 1 else m = m - 1
  e = i32x4.add(e, small); // mask is -1 where true
  m = f32x4.sub(f32x4.add(m, v128.and(m, small)), splat(1));
  const ef = f32x4.convert_i32x4_s(e);
  const z = f32x4.mul(m, m);
  let y = splat(7.0376836292e-2);
  y = madd(y, m, splat(-1.1514610310e-1));
  y = madd(y, m, splat(1.1676998740e-1));
  y = madd(y, m, splat(-1.2420140846e-1));
  y = madd(y, m, splat(1.4249322787e-1));
  y = madd(y, m, splat(-1.6668057665e-1));
  y = madd(y, m, splat(2.0000714765e-1));
  y = madd(y, m, splat(-2.4999993993e-1));
  y = madd(y, m, splat(3.3333331174e-1));
  y = f32x4.mul(f32x4.mul(y, m), z);
  y = madd(ef, splat(-2.12194440e-4), y);
  y = f32x4.sub(y, f32x4.mul(z, splat(0.5)));
  let r = f32x4.add(m, y);
  r = madd(ef, splat(0.693359375), r);
  r = v128.bitselect(splat(-Infinity), r, f32x4.eq(x, splat(0)));
  r = v128.bitselect(splat(NaN), r, f32x4.lt(x, splat(0)));
  r = v128.bitselect(x, r, f32x4.eq(x, splat(Infinity)));
  r = v128.bitselect(x, r, f32x4.ne(x, x));
  return r;
}

/** tanh for each lane. */
export function vtanh(x: v128): v128 {
  const ax = f32x4.abs(x);
  // large: 1 - 2 / (e^{2|x|} + 1), with the sign of x
  const e = vexp(f32x4.add(ax, ax));
  const big = f32x4.sub(splat(1), f32x4.div(splat(2), f32x4.add(e, splat(1))));
  const bigSigned = v128.or(big, v128.and(x, i32x4.splat(0x80000000)));
  // small: x + x z P(z)
  const z = f32x4.mul(x, x);
  let p = splat(-5.70498872745e-3);
  p = madd(p, z, splat(2.06390887954e-2));
  p = madd(p, z, splat(-5.37397155531e-2));
  p = madd(p, z, splat(1.33314422036e-1));
  p = madd(p, z, splat(-3.33332819422e-1));
  const smallV = madd(f32x4.mul(p, z), x, x);
  return v128.bitselect(smallV, bigSigned, f32x4.lt(ax, splat(0.625)));
}

/** 1 / (1 + e^-x) for each lane. */
export function vsigmoid(x: v128): v128 {
  return f32x4.div(splat(1), f32x4.add(splat(1), vexp(f32x4.neg(x))));
}

/** erfc(x) for each lane, fractional error about 1.2e-7 (Numerical Recipes erfcc). */
export function verfc(x: v128): v128 {
  const z = f32x4.abs(x);
  const t = f32x4.div(splat(1), madd(splat(0.5), z, splat(1)));
  let p = splat(0.17087277);
  p = madd(p, t, splat(-0.82215223));
  p = madd(p, t, splat(1.48851587));
  p = madd(p, t, splat(-1.13520398));
  p = madd(p, t, splat(0.27886807));
  p = madd(p, t, splat(-0.18628806));
  p = madd(p, t, splat(0.09678418));
  p = madd(p, t, splat(0.37409196));
  p = madd(p, t, splat(1.00002368));
  p = madd(p, t, splat(-1.26551223));
  const ans = f32x4.mul(t, vexp(f32x4.sub(p, f32x4.mul(z, z))));
  return v128.bitselect(f32x4.sub(splat(2), ans), ans, f32x4.lt(x, splat(0)));
}
