// Element-wise kernels: unary maps and their derivatives, broadcasting binary ops and where, fill, strided
// copies, reductions, AdamW. Vector bodies are f32x4; tails go through the same vector code on partial loads
// so every element gets the same arithmetic.

import { hsum64, loadTail, pf, pi, pp, storeTail } from "./common";
import { verfc, vexp, vlog, vsigmoid, vtanh } from "./vmath";

// Unary op codes (the JavaScript side uses the same numbers).
export const U_NEG = 0;
export const U_EXP = 1;
export const U_LOG = 2;
export const U_SQRT = 3;
export const U_RSQRT = 4;
export const U_TANH = 5;
export const U_SIGMOID = 6;
export const U_RELU = 7;
export const U_GELU = 8;
export const U_GELU_TANH = 9;
export const U_SILU = 10;
export const U_ABS = 11;
export const U_SQUARE = 12;
export const U_SCALE = 13;
export const U_SHIFT = 14;
export const U_POW = 15;
export const U_RDIV = 16;

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const INV_SQRT_2: f32 = 0.7071067811865476;
const INV_SQRT_2PI: f32 = 0.3989422804014327;

// @ts-ignore: decorator
@inline function splat(x: f32): v128 {
  return f32x4.splat(x);
}

/** 0.5 * (1 + erf(x / sqrt 2)) = 0.5 * erfc(-x / sqrt 2). */
// @ts-ignore: decorator
@inline function normalCdf(x: v128): v128 {
  return f32x4.mul(splat(0.5), verfc(f32x4.mul(x, splat(-INV_SQRT_2))));
}

function vpow(x: v128, alpha: f32): v128 {
  // Scalar Mathf.pow per lane: exact semantics for negative bases and integer exponents.
  return f32x4(
    Mathf.pow(f32x4.extract_lane(x, 0), alpha),
    Mathf.pow(f32x4.extract_lane(x, 1), alpha),
    Mathf.pow(f32x4.extract_lane(x, 2), alpha),
    Mathf.pow(f32x4.extract_lane(x, 3), alpha),
  );
}

// @ts-ignore: decorator
@inline function unaryV(op: i32, x: v128, alpha: f32): v128 {
  switch (op) {
    case U_NEG:
      return f32x4.neg(x);
    case U_EXP:
      return vexp(x);
    case U_LOG:
      return vlog(x);
    case U_SQRT:
      return f32x4.sqrt(x);
    case U_RSQRT:
      return f32x4.div(splat(1), f32x4.sqrt(x));
    case U_TANH:
      return vtanh(x);
    case U_SIGMOID:
      return vsigmoid(x);
    case U_RELU:
      return v128.and(x, f32x4.gt(x, splat(0)));
    case U_GELU:
      return f32x4.mul(x, normalCdf(x));
    case U_GELU_TANH: {
      const x3 = f32x4.mul(f32x4.mul(x, x), x);
      const inner = f32x4.mul(splat(SQRT_2_OVER_PI), f32x4.add(x, f32x4.mul(splat(0.044715), x3)));
      return f32x4.mul(f32x4.mul(splat(0.5), x), f32x4.add(splat(1), vtanh(inner)));
    }
    case U_SILU:
      return f32x4.mul(x, vsigmoid(x));
    case U_ABS:
      return f32x4.abs(x);
    case U_SQUARE:
      return f32x4.mul(x, x);
    case U_SCALE:
      return f32x4.mul(x, splat(alpha));
    case U_SHIFT:
      return f32x4.add(x, splat(alpha));
    case U_POW:
      return vpow(x, alpha);
    case U_RDIV:
      return f32x4.div(splat(alpha), x);
  }
  return x;
}

/** dy * f'(x), with y = f(x). */
// @ts-ignore: decorator
@inline function unaryGradV(op: i32, x: v128, y: v128, dy: v128, alpha: f32): v128 {
  switch (op) {
    case U_NEG:
      return f32x4.neg(dy);
    case U_EXP:
      return f32x4.mul(dy, y);
    case U_LOG:
      return f32x4.div(dy, x);
    case U_SQRT:
      return f32x4.div(f32x4.mul(dy, splat(0.5)), y);
    case U_RSQRT:
      return f32x4.mul(dy, f32x4.mul(splat(-0.5), f32x4.mul(f32x4.mul(y, y), y)));
    case U_TANH:
      return f32x4.mul(dy, f32x4.sub(splat(1), f32x4.mul(y, y)));
    case U_SIGMOID:
      return f32x4.mul(dy, f32x4.mul(y, f32x4.sub(splat(1), y)));
    case U_RELU:
      return v128.and(dy, f32x4.gt(x, splat(0)));
    case U_GELU: {
      const pdf = vexp(f32x4.mul(splat(-0.5), f32x4.mul(x, x)));
      return f32x4.mul(dy, f32x4.add(normalCdf(x), f32x4.mul(f32x4.mul(x, splat(INV_SQRT_2PI)), pdf)));
    }
    case U_GELU_TANH: {
      const x2 = f32x4.mul(x, x);
      const inner = f32x4.mul(splat(SQRT_2_OVER_PI), f32x4.add(x, f32x4.mul(splat(0.044715), f32x4.mul(x2, x))));
      const t = vtanh(inner);
      const left = f32x4.mul(splat(0.5), f32x4.add(splat(1), t));
      const right = f32x4.mul(
        f32x4.mul(f32x4.mul(splat(0.5), x), f32x4.sub(splat(1), f32x4.mul(t, t))),
        f32x4.mul(splat(SQRT_2_OVER_PI), f32x4.add(splat(1), f32x4.mul(splat(3 * 0.044715), x2))),
      );
      return f32x4.mul(dy, f32x4.add(left, right));
    }
    case U_SILU: {
      const s = vsigmoid(x);
      return f32x4.mul(dy, f32x4.mul(s, f32x4.add(splat(1), f32x4.mul(x, f32x4.sub(splat(1), s)))));
    }
    case U_ABS: {
      const pos = v128.and(splat(1), f32x4.gt(x, splat(0)));
      const neg = v128.and(splat(-1), f32x4.lt(x, splat(0)));
      return f32x4.mul(dy, v128.or(pos, neg));
    }
    case U_SQUARE:
      return f32x4.mul(dy, f32x4.add(x, x));
    case U_SCALE:
      return f32x4.mul(dy, splat(alpha));
    case U_SHIFT:
      return dy;
    case U_POW:
      return f32x4.mul(dy, f32x4.mul(splat(alpha), vpow(x, alpha - 1)));
    case U_RDIV:
      return f32x4.mul(dy, f32x4.div(splat(-alpha), f32x4.mul(x, x)));
  }
  return dy;
}

// @ts-ignore: decorator
@inline function unaryLoop(op: i32, x: usize, out: usize, begin: i32, end: i32, alpha: f32): void {
  let i = begin;
  for (; i + 4 <= end; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, unaryV(op, v128.load(x + o), alpha));
  }
  if (i < end) {
    const o = <usize>i << 2;
    storeTail(out + o, unaryV(op, loadTail(x + o, end - i), alpha), end - i);
  }
}

/** Params: 0 op, 1 x, 2 out, 3 alpha. Items: elements. */
export function unaryKernel(params: usize, begin: i32, end: i32, _scratch: usize): void {
  const op = pi(params, 0);
  const x = pp(params, 1);
  const out = pp(params, 2);
  const alpha = <f32>pf(params, 3);
  switch (op) {
    case U_NEG: unaryLoop(U_NEG, x, out, begin, end, alpha); break;
    case U_EXP: unaryLoop(U_EXP, x, out, begin, end, alpha); break;
    case U_LOG: unaryLoop(U_LOG, x, out, begin, end, alpha); break;
    case U_SQRT: unaryLoop(U_SQRT, x, out, begin, end, alpha); break;
    case U_RSQRT: unaryLoop(U_RSQRT, x, out, begin, end, alpha); break;
    case U_TANH: unaryLoop(U_TANH, x, out, begin, end, alpha); break;
    case U_SIGMOID: unaryLoop(U_SIGMOID, x, out, begin, end, alpha); break;
    case U_RELU: unaryLoop(U_RELU, x, out, begin, end, alpha); break;
    case U_GELU: unaryLoop(U_GELU, x, out, begin, end, alpha); break;
    case U_GELU_TANH: unaryLoop(U_GELU_TANH, x, out, begin, end, alpha); break;
    case U_SILU: unaryLoop(U_SILU, x, out, begin, end, alpha); break;
    case U_ABS: unaryLoop(U_ABS, x, out, begin, end, alpha); break;
    case U_SQUARE: unaryLoop(U_SQUARE, x, out, begin, end, alpha); break;
    case U_SCALE: unaryLoop(U_SCALE, x, out, begin, end, alpha); break;
    case U_SHIFT: unaryLoop(U_SHIFT, x, out, begin, end, alpha); break;
    case U_POW: unaryLoop(U_POW, x, out, begin, end, alpha); break;
    case U_RDIV: unaryLoop(U_RDIV, x, out, begin, end, alpha); break;
  }
}

// @ts-ignore: decorator
@inline function unaryGradLoop(
  op: i32,
  x: usize,
  y: usize,
  dy: usize,
  dx: usize,
  begin: i32,
  end: i32,
  alpha: f32,
): void {
  let i = begin;
  for (; i + 4 <= end; i += 4) {
    const o = <usize>i << 2;
    v128.store(dx + o, unaryGradV(op, v128.load(x + o), v128.load(y + o), v128.load(dy + o), alpha));
  }
  if (i < end) {
    const o = <usize>i << 2;
    const t = end - i;
    storeTail(dx + o, unaryGradV(op, loadTail(x + o, t), loadTail(y + o, t), loadTail(dy + o, t), alpha), t);
  }
}

/** Params: 0 op, 1 x, 2 y, 3 dy, 4 dx, 5 alpha. Items: elements. */
export function unaryBackwardKernel(params: usize, begin: i32, end: i32, _scratch: usize): void {
  const op = pi(params, 0);
  const x = pp(params, 1);
  const y = pp(params, 2);
  const dy = pp(params, 3);
  const dx = pp(params, 4);
  const alpha = <f32>pf(params, 5);
  switch (op) {
    case U_NEG: unaryGradLoop(U_NEG, x, y, dy, dx, begin, end, alpha); break;
    case U_EXP: unaryGradLoop(U_EXP, x, y, dy, dx, begin, end, alpha); break;
    case U_LOG: unaryGradLoop(U_LOG, x, y, dy, dx, begin, end, alpha); break;
    case U_SQRT: unaryGradLoop(U_SQRT, x, y, dy, dx, begin, end, alpha); break;
    case U_RSQRT: unaryGradLoop(U_RSQRT, x, y, dy, dx, begin, end, alpha); break;
    case U_TANH: unaryGradLoop(U_TANH, x, y, dy, dx, begin, end, alpha); break;
    case U_SIGMOID: unaryGradLoop(U_SIGMOID, x, y, dy, dx, begin, end, alpha); break;
    case U_RELU: unaryGradLoop(U_RELU, x, y, dy, dx, begin, end, alpha); break;
    case U_GELU: unaryGradLoop(U_GELU, x, y, dy, dx, begin, end, alpha); break;
    case U_GELU_TANH: unaryGradLoop(U_GELU_TANH, x, y, dy, dx, begin, end, alpha); break;
    case U_SILU: unaryGradLoop(U_SILU, x, y, dy, dx, begin, end, alpha); break;
    case U_ABS: unaryGradLoop(U_ABS, x, y, dy, dx, begin, end, alpha); break;
    case U_SQUARE: unaryGradLoop(U_SQUARE, x, y, dy, dx, begin, end, alpha); break;
    case U_SCALE: unaryGradLoop(U_SCALE, x, y, dy, dx, begin, end, alpha); break;
    case U_SHIFT: unaryGradLoop(U_SHIFT, x, y, dy, dx, begin, end, alpha); break;
    case U_POW: unaryGradLoop(U_POW, x, y, dy, dx, begin, end, alpha); break;
    case U_RDIV: unaryGradLoop(U_RDIV, x, y, dy, dx, begin, end, alpha); break;
  }
}

// Binary op codes.
export const B_ADD = 0;
export const B_SUB = 1;
export const B_MUL = 2;
export const B_DIV = 3;
export const B_POW = 4;
export const B_MAX = 5;
export const B_MIN = 6;
export const B_EQ = 7;
export const B_GT = 8;
export const B_LT = 9;

// @ts-ignore: decorator
@inline function binaryV(op: i32, a: v128, b: v128): v128 {
  switch (op) {
    case B_ADD:
      return f32x4.add(a, b);
    case B_SUB:
      return f32x4.sub(a, b);
    case B_MUL:
      return f32x4.mul(a, b);
    case B_DIV:
      return f32x4.div(a, b);
    case B_POW:
      return f32x4(
        Mathf.pow(f32x4.extract_lane(a, 0), f32x4.extract_lane(b, 0)),
        Mathf.pow(f32x4.extract_lane(a, 1), f32x4.extract_lane(b, 1)),
        Mathf.pow(f32x4.extract_lane(a, 2), f32x4.extract_lane(b, 2)),
        Mathf.pow(f32x4.extract_lane(a, 3), f32x4.extract_lane(b, 3)),
      );
    case B_MAX: // a >= b ? a : b
      return v128.bitselect(a, b, f32x4.ge(a, b));
    case B_MIN: // a <= b ? a : b
      return v128.bitselect(a, b, f32x4.le(a, b));
    case B_EQ:
      return v128.and(f32x4.eq(a, b), splat(1));
    case B_GT:
      return v128.and(f32x4.gt(a, b), splat(1));
    case B_LT:
      return v128.and(f32x4.lt(a, b), splat(1));
  }
  return a;
}

const MAX_RANK = 8;

/**
 * One row (the innermost axis) of a broadcasting binary op: out[j] = a[j * sa] op b[j * sb], j < len.
 */
// @ts-ignore: decorator
@inline function binaryRow(op: i32, a: usize, sa: i32, b: usize, sb: i32, out: usize, len: i32): void {
  let j = 0;
  if (sa == 1 && sb == 1) {
    for (; j + 4 <= len; j += 4) {
      const o = <usize>j << 2;
      v128.store(out + o, binaryV(op, v128.load(a + o), v128.load(b + o)));
    }
    if (j < len) {
      const o = <usize>j << 2;
      storeTail(out + o, binaryV(op, loadTail(a + o, len - j), loadTail(b + o, len - j)), len - j);
    }
  } else if (sa == 1 && sb == 0) {
    const bv = v128.load32_splat(b);
    for (; j + 4 <= len; j += 4) {
      const o = <usize>j << 2;
      v128.store(out + o, binaryV(op, v128.load(a + o), bv));
    }
    if (j < len) {
      const o = <usize>j << 2;
      storeTail(out + o, binaryV(op, loadTail(a + o, len - j), bv), len - j);
    }
  } else if (sa == 0 && sb == 1) {
    const av = v128.load32_splat(a);
    for (; j + 4 <= len; j += 4) {
      const o = <usize>j << 2;
      v128.store(out + o, binaryV(op, av, v128.load(b + o)));
    }
    if (j < len) {
      const o = <usize>j << 2;
      storeTail(out + o, binaryV(op, av, loadTail(b + o, len - j)), len - j);
    }
  } else {
    const da = <usize>sa << 2;
    const db = <usize>sb << 2;
    for (; j < len; j++) {
      const r = binaryV(op, v128.load32_splat(a + <usize>j * da), v128.load32_splat(b + <usize>j * db));
      store<f32>(out + (<usize>j << 2), f32x4.extract_lane(r, 0));
    }
  }
}

/**
 * Offsets (in elements) of row `row` of an index space whose last axis is the row: shape and strides live in
 * params at shapeAt and stridesAt (rank entries each, f64).
 */
// @ts-ignore: decorator
@inline function rowOffset(params: usize, rank: i32, shapeAt: i32, stridesAt: i32, row: i32): i32 {
  let off = 0;
  let rest = row;
  for (let axis = rank - 2; axis >= 0; axis--) {
    const size = pi(params, shapeAt + axis);
    const q = rest / size;
    off += (rest - q * size) * pi(params, stridesAt + axis);
    rest = q;
  }
  return off;
}

// @ts-ignore: decorator
@inline function binaryRows(op: i32, params: usize, begin: i32, end: i32): void {
  const rank = pi(params, 1);
  const a = pp(params, 2);
  const b = pp(params, 3);
  const out = pp(params, 4);
  const len = pi(params, 8 + rank - 1);
  const sa = pi(params, 8 + MAX_RANK + rank - 1);
  const sb = pi(params, 8 + 2 * MAX_RANK + rank - 1);
  for (let row = begin; row < end; row++) {
    const ao = rowOffset(params, rank, 8, 8 + MAX_RANK, row);
    const bo = rowOffset(params, rank, 8, 8 + 2 * MAX_RANK, row);
    binaryRow(
      op,
      a + (<usize>ao << 2),
      sa,
      b + (<usize>bo << 2),
      sb,
      out + (<usize>row * <usize>len << 2),
      len,
    );
  }
}

/**
 * Params: 0 op, 1 rank (>= 1), 2 a, 3 b, 4 out, 8.. shape[8], 16.. aStrides[8], 24.. bStrides[8].
 * Items: rows (the product of all but the last axis).
 */
export function binaryKernel(params: usize, begin: i32, end: i32, _scratch: usize): void {
  switch (pi(params, 0)) {
    case B_ADD: binaryRows(B_ADD, params, begin, end); break;
    case B_SUB: binaryRows(B_SUB, params, begin, end); break;
    case B_MUL: binaryRows(B_MUL, params, begin, end); break;
    case B_DIV: binaryRows(B_DIV, params, begin, end); break;
    case B_POW: binaryRows(B_POW, params, begin, end); break;
    case B_MAX: binaryRows(B_MAX, params, begin, end); break;
    case B_MIN: binaryRows(B_MIN, params, begin, end); break;
    case B_EQ: binaryRows(B_EQ, params, begin, end); break;
    case B_GT: binaryRows(B_GT, params, begin, end); break;
    case B_LT: binaryRows(B_LT, params, begin, end); break;
  }
}

/**
 * Params: 0 condIsInt, 1 rank, 2 cond, 3 a, 4 b, 5 out, 8.. shape, 16.. condStrides, 24.. aStrides,
 * 32.. bStrides. Items: rows.
 */
export function whereKernel(params: usize, begin: i32, end: i32, _scratch: usize): void {
  const condIsInt = pi(params, 0) != 0;
  const rank = pi(params, 1);
  const cond = pp(params, 2);
  const a = pp(params, 3);
  const b = pp(params, 4);
  const out = pp(params, 5);
  const len = pi(params, 8 + rank - 1);
  const sc = <usize>pi(params, 8 + MAX_RANK + rank - 1) << 2;
  const sa = <usize>pi(params, 8 + 2 * MAX_RANK + rank - 1) << 2;
  const sb = <usize>pi(params, 8 + 3 * MAX_RANK + rank - 1) << 2;
  for (let row = begin; row < end; row++) {
    const c = cond + (<usize>rowOffset(params, rank, 8, 8 + MAX_RANK, row) << 2);
    const ap = a + (<usize>rowOffset(params, rank, 8, 8 + 2 * MAX_RANK, row) << 2);
    const bp = b + (<usize>rowOffset(params, rank, 8, 8 + 3 * MAX_RANK, row) << 2);
    const o = out + (<usize>row * <usize>len << 2);
    for (let j = 0; j < len; j++) {
      const take = condIsInt ? load<i32>(c + <usize>j * sc) != 0 : load<f32>(c + <usize>j * sc) != 0;
      store<u32>(o + (<usize>j << 2), take ? load<u32>(ap + <usize>j * sa) : load<u32>(bp + <usize>j * sb));
    }
  }
}

/**
 * Strided copy of 4-byte elements. Params: 0 rank (>= 1), 1 src (byte address of element srcOffset), 2 dst,
 * 8.. shape, 16.. srcStrides, 24.. dstStrides. Items: rows.
 */
export function copyKernel(params: usize, begin: i32, end: i32, _scratch: usize): void {
  const rank = pi(params, 0);
  const src = pp(params, 1);
  const dst = pp(params, 2);
  const len = pi(params, 8 + rank - 1);
  const ss = pi(params, 8 + MAX_RANK + rank - 1);
  const ds = pi(params, 8 + 2 * MAX_RANK + rank - 1);
  for (let row = begin; row < end; row++) {
    const s = src + (<usize>rowOffset(params, rank, 8, 8 + MAX_RANK, row) << 2);
    const d = dst + (<usize>rowOffset(params, rank, 8, 8 + 2 * MAX_RANK, row) << 2);
    if (ss == 1 && ds == 1) {
      memory.copy(d, s, <usize>len << 2);
    } else {
      const sStep = <usize>ss << 2;
      const dStep = <usize>ds << 2;
      for (let j = 0; j < len; j++) store<u32>(d + <usize>j * dStep, load<u32>(s + <usize>j * sStep));
    }
  }
}

/** Params: 0 out, 1 bit pattern of the value (u32). Items: elements. */
export function fillKernel(params: usize, begin: i32, end: i32, _scratch: usize): void {
  const out = pp(params, 0);
  const bits = <u32>(<u64>pf(params, 1));
  const v = i32x4.splat(bits);
  let i = begin;
  for (; i + 4 <= end; i += 4) v128.store(out + (<usize>i << 2), v);
  for (; i < end; i++) store<u32>(out + (<usize>i << 2), bits);
}

/**
 * x viewed as [outer, size, inner]. Params: 0 op (0 sum, 1 max), 1 x, 2 out, 3 outer, 4 size, 5 inner.
 * Items: outer x ceil(inner / 4) column groups when inner > 1, else outer rows.
 */
export function reduceKernel(params: usize, begin: i32, end: i32, _scratch: usize): void {
  const isMax = pi(params, 0) == 1;
  const x = pp(params, 1);
  const out = pp(params, 2);
  const size = pi(params, 4);
  const inner = pi(params, 5);
  if (inner == 1) {
    for (let o = begin; o < end; o++) {
      const row = x + (<usize>o * <usize>size << 2);
      let r: f32;
      if (isMax) {
        r = -Infinity;
        // NaN propagates (the reference keeps a NaN once seen)
        let acc = f32x4.splat(-Infinity);
        let j = 0;
        for (; j + 4 <= size; j += 4) acc = f32x4.max(acc, v128.load(row + (<usize>j << 2)));
        r = max(max(f32x4.extract_lane(acc, 0), f32x4.extract_lane(acc, 1)), max(f32x4.extract_lane(acc, 2), f32x4.extract_lane(acc, 3)));
        for (; j < size; j++) r = max(r, load<f32>(row + (<usize>j << 2)));
      } else {
        let a0 = f32x4.splat(0);
        let a1 = f32x4.splat(0);
        let j = 0;
        for (; j + 8 <= size; j += 8) {
          a0 = f32x4.add(a0, v128.load(row + (<usize>j << 2)));
          a1 = f32x4.add(a1, v128.load(row + (<usize>j << 2), 16));
        }
        for (; j + 4 <= size; j += 4) a0 = f32x4.add(a0, v128.load(row + (<usize>j << 2)));
        const s = f32x4.add(a0, a1);
        r = f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + (f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3));
        for (; j < size; j++) r += load<f32>(row + (<usize>j << 2));
      }
      store<f32>(out + (<usize>o << 2), r);
    }
    return;
  }
  const groups = (inner + 3) >> 2;
  const pitch = <usize>inner << 2;
  for (let item = begin; item < end; item++) {
    const o = item / groups;
    const g = item - o * groups;
    const col = g << 2;
    const count = min(4, inner - col);
    let p = x + (<usize>o * <usize>size * pitch) + (<usize>col << 2);
    let acc = f32x4.splat(isMax ? -Infinity : 0);
    if (count == 4) {
      if (isMax) for (let r = 0; r < size; r++, p += pitch) acc = f32x4.max(acc, v128.load(p));
      else for (let r = 0; r < size; r++, p += pitch) acc = f32x4.add(acc, v128.load(p));
      v128.store(out + (<usize>(o * inner + col) << 2), acc);
    } else {
      if (isMax) for (let r = 0; r < size; r++, p += pitch) acc = f32x4.max(acc, loadTail(p, count));
      else for (let r = 0; r < size; r++, p += pitch) acc = f32x4.add(acc, loadTail(p, count));
      storeTail(out + (<usize>(o * inner + col) << 2), acc, count);
    }
  }
}

/** Params: 0 x, 1 out (i32), 2 outer, 3 size, 4 inner. Items: outer x inner outputs. */
export function argmaxKernel(params: usize, begin: i32, end: i32, _scratch: usize): void {
  const x = pp(params, 0);
  const out = pp(params, 1);
  const size = pi(params, 3);
  const inner = pi(params, 4);
  const pitch = <usize>inner << 2;
  for (let item = begin; item < end; item++) {
    const o = item / inner;
    const j = item - o * inner;
    const p = x + <usize>o * <usize>size * pitch + (<usize>j << 2);
    let best = 0;
    let bestValue = load<f32>(p);
    for (let r = 1; r < size; r++) {
      const v = load<f32>(p + <usize>r * pitch);
      if (v > bestValue) {
        best = r;
        bestValue = v;
      }
    }
    store<i32>(out + (<usize>item << 2), best);
  }
}

/** Params: 0 x, 1 partials (f64 per chunk), 2 chunk size. Items: elements; writes partial[begin / chunk]. */
export function sumSquaresKernel(params: usize, begin: i32, end: i32, _scratch: usize): void {
  const x = pp(params, 0);
  const partials = pp(params, 1);
  const chunk = pi(params, 2);
  let lo = f64x2.splat(0);
  let hi = f64x2.splat(0);
  let i = begin;
  for (; i + 4 <= end; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    const sq = f32x4.mul(v, v);
    lo = f64x2.add(lo, f64x2.promote_low_f32x4(sq));
    hi = f64x2.add(hi, f64x2.promote_low_f32x4(v128.shuffle<i32>(sq, sq, 2, 3, 0, 1)));
  }
  let s = hsum64(lo, hi);
  for (; i < end; i++) {
    const v = <f64>load<f32>(x + (<usize>i << 2));
    s += v * v;
  }
  store<f64>(partials + (<usize>(begin / chunk) << 3), s);
}

/**
 * Params: 0 param, 1 grad, 2 m, 3 v, 4 lr, 5 beta1, 6 beta2, 7 eps, 8 weightDecay, 9 1 - beta1^step,
 * 10 1 - beta2^step. Items: elements.
 */
export function adamwKernel(params: usize, begin: i32, end: i32, _scratch: usize): void {
  const param = pp(params, 0);
  const grad = pp(params, 1);
  const mp = pp(params, 2);
  const vp = pp(params, 3);
  const lr = pf(params, 4);
  const beta1 = pf(params, 5);
  const beta2 = pf(params, 6);
  const eps = <f32>pf(params, 7);
  const wd = pf(params, 8);
  const bc1 = pf(params, 9);
  const bc2 = pf(params, 10);
  const decay = splat(<f32>(1 - lr * wd));
  const b1 = splat(<f32>beta1);
  const ob1 = splat(<f32>(1 - beta1));
  const b2 = splat(<f32>beta2);
  const ob2 = splat(<f32>(1 - beta2));
  const invBc2 = splat(<f32>(1 / bc2));
  const stepSize = splat(<f32>(lr / bc1));
  const epsV = splat(eps);
  let i = begin;
  for (; i < end; i += 4) {
    const count = min(4, end - i);
    const o = <usize>i << 2;
    const g = count == 4 ? v128.load(grad + o) : loadTail(grad + o, count);
    let p = count == 4 ? v128.load(param + o) : loadTail(param + o, count);
    let m = count == 4 ? v128.load(mp + o) : loadTail(mp + o, count);
    let v = count == 4 ? v128.load(vp + o) : loadTail(vp + o, count);
    p = f32x4.mul(p, decay);
    m = f32x4.add(f32x4.mul(b1, m), f32x4.mul(ob1, g));
    v = f32x4.add(f32x4.mul(b2, v), f32x4.mul(f32x4.mul(ob2, g), g));
    const denom = f32x4.add(f32x4.sqrt(f32x4.mul(v, invBc2)), epsV);
    p = f32x4.sub(p, f32x4.mul(stepSize, f32x4.div(m, denom)));
    if (count == 4) {
      v128.store(param + o, p);
      v128.store(mp + o, m);
      v128.store(vp + o, v);
    } else {
      storeTail(param + o, p, count);
      storeTail(mp + o, m, count);
      storeTail(vp + o, v, count);
    }
  }
}
