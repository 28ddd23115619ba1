// Shared helpers of the kernels. Every parallel kernel takes (params, begin, end, scratch): params points at a
// block of f64 values written by the JavaScript side (pointers are byte addresses in linear memory), [begin,
// end) is the range of work items this call handles, scratch is the calling thread's private scratch area.

/** The i-th f64 parameter. */
// @ts-ignore: decorator
@inline export function pf(params: usize, i: i32): f64 {
  return load<f64>(params + (<usize>i << 3));
}

/** The i-th parameter as a 32-bit integer. */
// @ts-ignore: decorator
@inline export function pi(params: usize, i: i32): i32 {
  return <i32>load<f64>(params + (<usize>i << 3));
}

/** The i-th parameter as a byte address. */
// @ts-ignore: decorator
@inline export function pp(params: usize, i: i32): usize {
  return <usize>(<u64>load<f64>(params + (<usize>i << 3)));
}

/** Loads count (< 4) floats into the low lanes of a vector (the others are zero). */
export function loadTail(ptr: usize, count: i32): v128 {
  let v = f32x4.splat(0);
  if (count > 0) v = f32x4.replace_lane(v, 0, load<f32>(ptr));
  if (count > 1) v = f32x4.replace_lane(v, 1, load<f32>(ptr, 4));
  if (count > 2) v = f32x4.replace_lane(v, 2, load<f32>(ptr, 8));
  return v;
}

/** Loads count (< 4) floats, filling the other lanes with `fill`. */
export function loadTailFill(ptr: usize, count: i32, fill: f32): v128 {
  let v = f32x4.splat(fill);
  if (count > 0) v = f32x4.replace_lane(v, 0, load<f32>(ptr));
  if (count > 1) v = f32x4.replace_lane(v, 1, load<f32>(ptr, 4));
  if (count > 2) v = f32x4.replace_lane(v, 2, load<f32>(ptr, 8));
  return v;
}

/** Stores the low count (< 4) lanes. */
export function storeTail(ptr: usize, v: v128, count: i32): void {
  if (count > 0) store<f32>(ptr, f32x4.extract_lane(v, 0));
  if (count > 1) store<f32>(ptr, f32x4.extract_lane(v, 1), 4);
  if (count > 2) store<f32>(ptr, f32x4.extract_lane(v, 2), 8);
}

// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// @ts-ignore: decorator
@inline export function hmax(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

/** Sum of the lanes accumulated in float64 (f32x4 promoted into two f64x2). */
// @ts-ignore: decorator
@inline export function hsum64(lo: v128, hi: v128): f64 {
  const s = f64x2.add(lo, hi);
  return f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
}

/** Sum of x[0..n) in float64 via f64x2 lanes. */
export function sumRow64(x: usize, n: i32): f64 {
  let lo = f64x2.splat(0);
  let hi = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    lo = f64x2.add(lo, f64x2.promote_low_f32x4(v));
    hi = f64x2.add(hi, f64x2.promote_low_f32x4(v128.shuffle<i32>(v, v, 2, 3, 0, 1)));
  }
  let s = hsum64(lo, hi);
  for (; i < n; i++) s += <f64>load<f32>(x + (<usize>i << 2));
  return s;
}
