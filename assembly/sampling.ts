// Next-token choice per row of logits, in float64 (see SampleRowsArgs in src/backend/backend.ts): logsumexp of
// the row, then argmax (temperature <= 0) or a draw by inverse CDF of softmax(fround(row / temperature)) with a
// given uniform. Items are rows; scratch holds one row's tempered weights (cols f64).

import { pf, pi, pp } from "./common";

// @ts-ignore: decorator
@inline function dsplat(x: f64): v128 {
  return f64x2.splat(x);
}

// @ts-ignore: decorator
@inline function dmadd(a: v128, b: v128, c: v128): v128 {
  return f64x2.add(f64x2.mul(a, b), c);
}

/**
 * e^x for both f64 lanes within about 1 ulp: x = n ln2 + r with |r| <= ln2 / 2, a degree-13 Taylor polynomial,
 * 2^n applied as two factors (subnormal results round once). NaN passes through; below -745.14 gives 0, above
 * 709.78 +inf. The same algorithm as v4d_exp in native/kernels.c.
 */
export function vexp64(x: v128): v128 {
  const big = f64x2.gt(x, dsplat(709.782712893383973096));
  const small = f64x2.lt(x, dsplat(-745.133219101941108420));
  const nan = f64x2.ne(x, x);
  const xc = v128.bitselect(dsplat(0), x, v128.or(v128.or(big, small), nan));
  const shifter = dsplat(6755399441055744.0); // 1.5 * 2^52: adding it rounds to an integer
  const t = f64x2.add(f64x2.mul(xc, dsplat(1.4426950408889634074)), shifter);
  const n = f64x2.sub(t, shifter);
  const ni = i64x2.sub(t, shifter);
  let r = f64x2.sub(xc, f64x2.mul(n, dsplat(6.93147180369123816490e-1)));
  r = f64x2.sub(r, f64x2.mul(n, dsplat(1.90821492927058770002e-10)));
  let p = dsplat(1.0 / 6227020800.0);
  p = dmadd(p, r, dsplat(1.0 / 479001600.0));
  p = dmadd(p, r, dsplat(1.0 / 39916800.0));
  p = dmadd(p, r, dsplat(1.0 / 3628800.0));
  p = dmadd(p, r, dsplat(1.0 / 362880.0));
  p = dmadd(p, r, dsplat(1.0 / 40320.0));
  p = dmadd(p, r, dsplat(1.0 / 5040.0));
  p = dmadd(p, r, dsplat(1.0 / 720.0));
  p = dmadd(p, r, dsplat(1.0 / 120.0));
  p = dmadd(p, r, dsplat(1.0 / 24.0));
  p = dmadd(p, r, dsplat(1.0 / 6.0));
  p = dmadd(p, r, dsplat(0.5));
  p = dmadd(p, r, dsplat(1.0));
  p = dmadd(p, r, dsplat(1.0));
  const n1 = i64x2.shr_s(ni, 1);
  const n2 = i64x2.sub(ni, n1);
  const bias = i64x2.splat(1023);
  let result = f64x2.mul(f64x2.mul(p, i64x2.shl(i64x2.add(n1, bias), 52)), i64x2.shl(i64x2.add(n2, bias), 52));
  result = v128.bitselect(dsplat(Infinity), result, big);
  result = v128.bitselect(dsplat(0), result, small);
  return v128.bitselect(x, result, nan);
}

// @ts-ignore: decorator
@inline function exp64(x: f64): f64 {
  return f64x2.extract_lane(vexp64(dsplat(x)), 0);
}

/** Two floats at ptr widened to f64 lanes. */
// @ts-ignore: decorator
@inline function load2(ptr: usize): v128 {
  return f64x2.promote_low_f32x4(v128.load64_zero(ptr));
}

/** Params: 0 logits, 1 uniforms (f64), 2 tokens (i32), 3 lse (f64), 4 cols, 5 temperature. */
export function sampleRowsKernel(params: usize, begin: i32, end: i32, scratch: usize): void {
  const logits = pp(params, 0);
  const uniforms = pp(params, 1);
  const tokens = pp(params, 2);
  const lseOut = pp(params, 3);
  const cols = pi(params, 4);
  const temperature = pf(params, 5);
  const sampling = temperature > 0;
  const weights = scratch;
  const pitch = <usize>cols << 2;
  for (let r = begin; r < end; r++) {
    const x = logits + <usize>r * pitch;
    // max skipping NaN (`if (x > max) max = x`)
    let m4 = f32x4.splat(-Infinity);
    let i = 0;
    for (; i + 4 <= cols; i += 4) {
      const v = v128.load(x + (<usize>i << 2));
      m4 = v128.bitselect(v, m4, f32x4.gt(v, m4));
    }
    let mf: f32 = -Infinity;
    const l0 = f32x4.extract_lane(m4, 0);
    const l1 = f32x4.extract_lane(m4, 1);
    const l2 = f32x4.extract_lane(m4, 2);
    const l3 = f32x4.extract_lane(m4, 3);
    if (l0 > mf) mf = l0;
    if (l1 > mf) mf = l1;
    if (l2 > mf) mf = l2;
    if (l3 > mf) mf = l3;
    for (; i < cols; i++) {
      const v = load<f32>(x + (<usize>i << 2));
      if (v > mf) mf = v;
    }
    const m = <f64>mf;
    const mv = dsplat(m);
    let acc0 = dsplat(0);
    let acc1 = dsplat(0);
    for (i = 0; i + 4 <= cols; i += 4) {
      const o = x + (<usize>i << 2);
      acc0 = f64x2.add(acc0, vexp64(f64x2.sub(load2(o), mv)));
      acc1 = f64x2.add(acc1, vexp64(f64x2.sub(load2(o + 8), mv)));
    }
    let sum = f64x2.extract_lane(acc0, 0) + f64x2.extract_lane(acc1, 0) + (f64x2.extract_lane(acc0, 1) + f64x2.extract_lane(acc1, 1));
    for (; i < cols; i++) sum += exp64(<f64>load<f32>(x + (<usize>i << 2)) - m);
    store<f64>(lseOut + (<usize>r << 3), m + Math.log(sum));
    if (!sampling) {
      let best = 0;
      let bestValue = load<f32>(x);
      for (let c = 1; c < cols; c++) {
        const v = load<f32>(x + (<usize>c << 2));
        if (v > bestValue) {
          best = c;
          bestValue = v;
        }
      }
      store<i32>(tokens + (<usize>r << 2), best);
      continue;
    }
    const temperedMax = <f64>(<f32>(m / temperature));
    const tv = dsplat(temperature);
    const tmv = dsplat(temperedMax);
    let acc = dsplat(0);
    for (i = 0; i + 2 <= cols; i += 2) {
      const tempered = f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(f64x2.div(load2(x + (<usize>i << 2)), tv)));
      const e = vexp64(f64x2.sub(tempered, tmv));
      v128.store(weights + (<usize>i << 3), e);
      acc = f64x2.add(acc, e);
    }
    let total = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
    for (; i < cols; i++) {
      const e = exp64(<f64>(<f32>(<f64>load<f32>(x + (<usize>i << 2)) / temperature)) - temperedMax);
      store<f64>(weights + (<usize>i << 3), e);
      total += e;
    }
    // inverse CDF in id order: the first id whose cumulative weight reaches u * total
    let left = load<f64>(uniforms + (<usize>r << 3)) * total;
    let token = cols - 1;
    for (let c = 0; c < cols; c++) {
      left -= load<f64>(weights + (<usize>c << 3));
      if (left <= 0) {
        token = c;
        break;
      }
    }
    store<i32>(tokens + (<usize>r << 2), token);
  }
}
