// Row-wise kernels over [rows, cols]: softmax and log-softmax (+ backward), layer norm and RMS norm (+
// backward), cross-entropy (+ backward), gather/scatter of rows, rotary embeddings. Items are rows unless a
// kernel says otherwise.

import { loadTail, loadTailFill, pf, pi, pp, storeTail } from "./common";
import { vexp } from "./vmath";

// @ts-ignore: decorator
@inline function splat(x: f32): v128 {
  return f32x4.splat(x);
}

// @ts-ignore: decorator
@inline function lanesSum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// @ts-ignore: decorator
@inline function lanesMax(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

export function rowMax(x: usize, n: i32): f32 {
  let acc = splat(-Infinity);
  let j = 0;
  for (; j + 4 <= n; j += 4) acc = f32x4.max(acc, v128.load(x + (<usize>j << 2)));
  if (j < n) acc = f32x4.max(acc, loadTailFill(x + (<usize>j << 2), n - j, -Infinity));
  return lanesMax(acc);
}

export function rowSum(x: usize, n: i32): f32 {
  let a0 = splat(0);
  let a1 = splat(0);
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    a0 = f32x4.add(a0, v128.load(x + (<usize>j << 2)));
    a1 = f32x4.add(a1, v128.load(x + (<usize>j << 2), 16));
  }
  for (; j + 4 <= n; j += 4) a0 = f32x4.add(a0, v128.load(x + (<usize>j << 2)));
  if (j < n) a0 = f32x4.add(a0, loadTail(x + (<usize>j << 2), n - j));
  return lanesSum(f32x4.add(a0, a1));
}

export function rowDot(x: usize, y: usize, n: i32): f32 {
  let a0 = splat(0);
  let a1 = splat(0);
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    const o = <usize>j << 2;
    a0 = f32x4.add(a0, f32x4.mul(v128.load(x + o), v128.load(y + o)));
    a1 = f32x4.add(a1, f32x4.mul(v128.load(x + o, 16), v128.load(y + o, 16)));
  }
  for (; j + 4 <= n; j += 4) {
    const o = <usize>j << 2;
    a0 = f32x4.add(a0, f32x4.mul(v128.load(x + o), v128.load(y + o)));
  }
  if (j < n) {
    const o = <usize>j << 2;
    a0 = f32x4.add(a0, f32x4.mul(loadTail(x + o, n - j), loadTail(y + o, n - j)));
  }
  return lanesSum(f32x4.add(a0, a1));
}

/** out[j] = e^(x[j] - shift); returns the sum. out may alias x. */
export function rowExpShifted(x: usize, out: usize, n: i32, shift: f32): f32 {
  const s = splat(shift);
  let acc = splat(0);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const o = <usize>j << 2;
    const e = vexp(f32x4.sub(v128.load(x + o), s));
    v128.store(out + o, e);
    acc = f32x4.add(acc, e);
  }
  if (j < n) {
    const o = <usize>j << 2;
    const e = v128.and(vexp(f32x4.sub(loadTail(x + o, n - j), s)), tailMask(n - j));
    storeTail(out + o, e, n - j);
    acc = f32x4.add(acc, e);
  }
  return lanesSum(acc);
}

/** Sum of e^(x[j] - shift) without storing. */
export function rowSumExpShifted(x: usize, n: i32, shift: f32): f32 {
  const s = splat(shift);
  let acc = splat(0);
  let j = 0;
  for (; j + 4 <= n; j += 4) acc = f32x4.add(acc, vexp(f32x4.sub(v128.load(x + (<usize>j << 2)), s)));
  if (j < n) {
    acc = f32x4.add(acc, v128.and(vexp(f32x4.sub(loadTail(x + (<usize>j << 2), n - j), s)), tailMask(n - j)));
  }
  return lanesSum(acc);
}

/** All-ones in the low count lanes. */
export function tailMask(count: i32): v128 {
  return i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(count));
}

/** out[j] = x[j] * s. */
export function rowScale(x: usize, out: usize, n: i32, s: f32): void {
  const sv = splat(s);
  let j = 0;
  for (; j + 4 <= n; j += 4) v128.store(out + (<usize>j << 2), f32x4.mul(v128.load(x + (<usize>j << 2)), sv));
  for (; j < n; j++) store<f32>(out + (<usize>j << 2), load<f32>(x + (<usize>j << 2)) * s);
}

/** Params: 0 x, 1 out, 2 cols, 3 log (0 softmax, 1 log-softmax). */
export function softmaxKernel(params: usize, begin: i32, end: i32, _scratch: usize): void {
  const x = pp(params, 0);
  const out = pp(params, 1);
  const cols = pi(params, 2);
  const isLog = pi(params, 3) != 0;
  const pitch = <usize>cols << 2;
  for (let r = begin; r < end; r++) {
    const xr = x + <usize>r * pitch;
    const or = out + <usize>r * pitch;
    const mx = rowMax(xr, cols);
    if (isLog) {
      const lse = mx + <f32>Math.log(<f64>rowSumExpShifted(xr, cols, mx));
      const lv = splat(lse);
      let j = 0;
      for (; j + 4 <= cols; j += 4) v128.store(or + (<usize>j << 2), f32x4.sub(v128.load(xr + (<usize>j << 2)), lv));
      for (; j < cols; j++) store<f32>(or + (<usize>j << 2), load<f32>(xr + (<usize>j << 2)) - lse);
    } else {
      const sum = rowExpShifted(xr, or, cols, mx);
      rowScale(or, or, cols, 1 / sum);
    }
  }
}

/** Params: 0 y, 1 dy, 2 dx, 3 cols, 4 log. dx = y (dy - sum(dy y)) or dy - e^y sum(dy). */
export function softmaxBackwardKernel(params: usize, begin: i32, end: i32, _scratch: usize): void {
  const y = pp(params, 0);
  const dy = pp(params, 1);
  const dx = pp(params, 2);
  const cols = pi(params, 3);
  const isLog = pi(params, 4) != 0;
  const pitch = <usize>cols << 2;
  for (let r = begin; r < end; r++) {
    const yr = y + <usize>r * pitch;
    const gr = dy + <usize>r * pitch;
    const xr = dx + <usize>r * pitch;
    if (isLog) {
      const sv = splat(rowSum(gr, cols));
      let j = 0;
      for (; j < cols; j += 4) {
        const o = <usize>j << 2;
        const t = cols - j;
        if (t >= 4) {
          v128.store(xr + o, f32x4.sub(v128.load(gr + o), f32x4.mul(vexp(v128.load(yr + o)), sv)));
        } else {
          storeTail(xr + o, f32x4.sub(loadTail(gr + o, t), f32x4.mul(vexp(loadTail(yr + o, t)), sv)), t);
        }
      }
    } else {
      const dv = splat(rowDot(yr, gr, cols));
      let j = 0;
      for (; j + 4 <= cols; j += 4) {
        const o = <usize>j << 2;
        v128.store(xr + o, f32x4.mul(v128.load(yr + o), f32x4.sub(v128.load(gr + o), dv)));
      }
      const d = f32x4.extract_lane(dv, 0);
      for (; j < cols; j++) {
        const o = <usize>j << 2;
        store<f32>(xr + o, load<f32>(yr + o) * (load<f32>(gr + o) - d));
      }
    }
  }
}

/** Params: 0 x, 1 w (0: none), 2 b (0: none), 3 out, 4 mean, 5 rstd, 6 cols, 7 eps, 8 rms (1: RMS norm). */
export function normKernel(params: usize, begin: i32, end: i32, _scratch: usize): void {
  const x = pp(params, 0);
  const w = pp(params, 1);
  const b = pp(params, 2);
  const out = pp(params, 3);
  const meanOut = pp(params, 4);
  const rstdOut = pp(params, 5);
  const cols = pi(params, 6);
  const eps = pf(params, 7);
  const rms = pi(params, 8) != 0;
  const pitch = <usize>cols << 2;
  for (let r = begin; r < end; r++) {
    const xr = x + <usize>r * pitch;
    const or = out + <usize>r * pitch;
    let mean: f32 = 0;
    let rstd: f32;
    if (rms) {
      rstd = <f32>(1 / Math.sqrt(<f64>rowDot(xr, xr, cols) / cols + eps));
    } else {
      mean = rowSum(xr, cols) / <f32>cols;
      const mv = splat(mean);
      let acc = splat(0);
      let j = 0;
      for (; j + 4 <= cols; j += 4) {
        const d = f32x4.sub(v128.load(xr + (<usize>j << 2)), mv);
        acc = f32x4.add(acc, f32x4.mul(d, d));
      }
      if (j < cols) {
        const d = v128.and(f32x4.sub(loadTail(xr + (<usize>j << 2), cols - j), mv), tailMask(cols - j));
        acc = f32x4.add(acc, f32x4.mul(d, d));
      }
      rstd = <f32>(1 / Math.sqrt(<f64>lanesSum(acc) / cols + eps));
      store<f32>(meanOut + (<usize>r << 2), mean);
    }
    store<f32>(rstdOut + (<usize>r << 2), rstd);
    const mv = splat(mean);
    const rv = splat(rstd);
    for (let j = 0; j < cols; j += 4) {
      const o = <usize>j << 2;
      const t = cols - j;
      let v = t >= 4 ? v128.load(xr + o) : loadTail(xr + o, t);
      v = f32x4.mul(f32x4.sub(v, mv), rv);
      if (w != 0) v = f32x4.mul(v, t >= 4 ? v128.load(w + o) : loadTail(w + o, t));
      if (b != 0) v = f32x4.add(v, t >= 4 ? v128.load(b + o) : loadTail(b + o, t));
      if (t >= 4) v128.store(or + o, v);
      else storeTail(or + o, v, t);
    }
  }
}

/**
 * dx of layer norm / RMS norm. Params: 0 dy, 1 x, 2 w (0: none), 3 mean, 4 rstd, 5 dx, 6 cols, 7 rms.
 */
export function normBackwardKernel(params: usize, begin: i32, end: i32, _scratch: usize): void {
  const dy = pp(params, 0);
  const x = pp(params, 1);
  const w = pp(params, 2);
  const meanIn = pp(params, 3);
  const rstdIn = pp(params, 4);
  const dx = pp(params, 5);
  const cols = pi(params, 6);
  const rms = pi(params, 7) != 0;
  const pitch = <usize>cols << 2;
  const invCols: f32 = 1 / <f32>cols;
  for (let r = begin; r < end; r++) {
    const gr = dy + <usize>r * pitch;
    const xr = x + <usize>r * pitch;
    const dr = dx + <usize>r * pitch;
    const rs = load<f32>(rstdIn + (<usize>r << 2));
    const mean: f32 = rms ? 0 : load<f32>(meanIn + (<usize>r << 2));
    const mv = splat(mean);
    const rv = splat(rs);
    // sums of g = dy * w and of g * xhat (layer norm) or g * x (RMS)
    let sumG = splat(0);
    let sumGX = splat(0);
    for (let j = 0; j < cols; j += 4) {
      const o = <usize>j << 2;
      const t = cols - j;
      let g = t >= 4 ? v128.load(gr + o) : loadTail(gr + o, t);
      if (w != 0) g = f32x4.mul(g, t >= 4 ? v128.load(w + o) : loadTail(w + o, t));
      const xv = t >= 4 ? v128.load(xr + o) : loadTail(xr + o, t);
      const xh = rms ? xv : f32x4.mul(f32x4.sub(xv, mv), rv);
      sumG = f32x4.add(sumG, g);
      sumGX = f32x4.add(sumGX, f32x4.mul(g, v128.and(xh, tailMask(t))));
    }
    const sg = splat(lanesSum(sumG));
    const sgx = splat(lanesSum(sumGX));
    const colsV = splat(<f32>cols);
    const invV = splat(invCols);
    const rms3 = splat(rs * rs * rs * invCols);
    for (let j = 0; j < cols; j += 4) {
      const o = <usize>j << 2;
      const t = cols - j;
      let g = t >= 4 ? v128.load(gr + o) : loadTail(gr + o, t);
      if (w != 0) g = f32x4.mul(g, t >= 4 ? v128.load(w + o) : loadTail(w + o, t));
      const xv = t >= 4 ? v128.load(xr + o) : loadTail(xr + o, t);
      let d: v128;
      if (rms) {
        // rs g - rs^3 x sum(g x) / cols
        d = f32x4.sub(f32x4.mul(rv, g), f32x4.mul(f32x4.mul(rms3, xv), sgx));
      } else {
        const xh = f32x4.mul(f32x4.sub(xv, mv), rv);
        d = f32x4.mul(f32x4.mul(rv, f32x4.sub(f32x4.sub(f32x4.mul(colsV, g), sg), f32x4.mul(xh, sgx))), invV);
      }
      if (t >= 4) v128.store(dr + o, d);
      else storeTail(dr + o, d, t);
    }
  }
}

/**
 * dw (and db) of layer norm / RMS norm, summed over rows. Params: 0 dy, 1 x, 2 mean, 3 rstd, 4 dw (0: none),
 * 5 db (0: none), 6 rows, 7 cols, 8 rms. Items: groups of 4 columns.
 */
export function normParamGradKernel(params: usize, begin: i32, end: i32, _scratch: usize): void {
  const dy = pp(params, 0);
  const x = pp(params, 1);
  const meanIn = pp(params, 2);
  const rstdIn = pp(params, 3);
  const dw = pp(params, 4);
  const db = pp(params, 5);
  const rows = pi(params, 6);
  const cols = pi(params, 7);
  const rms = pi(params, 8) != 0;
  const pitch = <usize>cols << 2;
  for (let g = begin; g < end; g++) {
    const col = g << 2;
    const t = min(4, cols - col);
    let accW = splat(0);
    let accB = splat(0);
    let pg = dy + (<usize>col << 2);
    let px = x + (<usize>col << 2);
    for (let r = 0; r < rows; r++, pg += pitch, px += pitch) {
      const gv = t == 4 ? v128.load(pg) : loadTail(pg, t);
      const xv = t == 4 ? v128.load(px) : loadTail(px, t);
      const rs = v128.load32_splat(rstdIn + (<usize>r << 2));
      const xh = rms ? f32x4.mul(xv, rs) : f32x4.mul(f32x4.sub(xv, v128.load32_splat(meanIn + (<usize>r << 2))), rs);
      accW = f32x4.add(accW, f32x4.mul(gv, xh));
      accB = f32x4.add(accB, gv);
    }
    const o = <usize>col << 2;
    if (dw != 0) {
      if (t == 4) v128.store(dw + o, accW);
      else storeTail(dw + o, accW, t);
    }
    if (db != 0) {
      if (t == 4) v128.store(db + o, accB);
      else storeTail(db + o, accB, t);
    }
  }
}

/** Params: 0 table, 1 ids, 2 out, 3 cols. Items: ids. */
export function gatherRowsKernel(params: usize, begin: i32, end: i32, _scratch: usize): void {
  const table = pp(params, 0);
  const ids = pp(params, 1);
  const out = pp(params, 2);
  const pitch = <usize>pi(params, 3) << 2;
  for (let i = begin; i < end; i++) {
    const id = <usize>load<i32>(ids + (<usize>i << 2));
    memory.copy(out + <usize>i * pitch, table + id * pitch, pitch);
  }
}

/** Params: 0 dOut, 1 ids, 2 dTable, 3 cols, 4 count, 5 skipId. Items: groups of 4 columns. */
export function scatterAddRowsKernel(params: usize, begin: i32, end: i32, _scratch: usize): void {
  const dOut = pp(params, 0);
  const ids = pp(params, 1);
  const dTable = pp(params, 2);
  const cols = pi(params, 3);
  const count = pi(params, 4);
  const skipId = pi(params, 5);
  const pitch = <usize>cols << 2;
  const c0 = begin << 2;
  const c1 = min(cols, end << 2);
  const width = c1 - c0;
  for (let i = 0; i < count; i++) {
    const id = load<i32>(ids + (<usize>i << 2));
    if (id == skipId) continue;
    const src = dOut + <usize>i * pitch + (<usize>c0 << 2);
    const dst = dTable + <usize>id * pitch + (<usize>c0 << 2);
    let j = 0;
    for (; j + 4 <= width; j += 4) {
      const o = <usize>j << 2;
      v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
    }
    for (; j < width; j++) {
      const o = <usize>j << 2;
      store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
    }
  }
}

/** Params: 0 logits, 1 targets, 2 losses, 3 lse, 4 cols, 5 ignoreIndex. */
export function crossEntropyKernel(params: usize, begin: i32, end: i32, _scratch: usize): void {
  const logits = pp(params, 0);
  const targets = pp(params, 1);
  const losses = pp(params, 2);
  const lseOut = pp(params, 3);
  const cols = pi(params, 4);
  const ignore = pi(params, 5);
  const pitch = <usize>cols << 2;
  for (let r = begin; r < end; r++) {
    const xr = logits + <usize>r * pitch;
    const mx = rowMax(xr, cols);
    const lse = <f32>(<f64>mx + Math.log(<f64>rowSumExpShifted(xr, cols, mx)));
    store<f32>(lseOut + (<usize>r << 2), lse);
    const target = load<i32>(targets + (<usize>r << 2));
    store<f32>(losses + (<usize>r << 2), target == ignore ? 0 : lse - load<f32>(xr + (<usize>target << 2)));
  }
}

/** Params: 0 logits, 1 targets, 2 lse, 3 dLoss, 4 dLogits, 5 cols, 6 ignoreIndex. */
export function crossEntropyBackwardKernel(params: usize, begin: i32, end: i32, _scratch: usize): void {
  const logits = pp(params, 0);
  const targets = pp(params, 1);
  const lseIn = pp(params, 2);
  const dLoss = pp(params, 3);
  const dLogits = pp(params, 4);
  const cols = pi(params, 5);
  const ignore = pi(params, 6);
  const pitch = <usize>cols << 2;
  for (let r = begin; r < end; r++) {
    const xr = logits + <usize>r * pitch;
    const dr = dLogits + <usize>r * pitch;
    const target = load<i32>(targets + (<usize>r << 2));
    if (target == ignore) {
      memory.fill(dr, 0, pitch);
      continue;
    }
    const lse = load<f32>(lseIn + (<usize>r << 2));
    const g = load<f32>(dLoss + (<usize>r << 2));
    const lv = splat(lse);
    const gv = splat(g);
    for (let j = 0; j < cols; j += 4) {
      const o = <usize>j << 2;
      const t = cols - j;
      if (t >= 4) v128.store(dr + o, f32x4.mul(gv, vexp(f32x4.sub(v128.load(xr + o), lv))));
      else storeTail(dr + o, f32x4.mul(gv, vexp(f32x4.sub(loadTail(xr + o, t), lv))), t);
    }
    const to = dr + (<usize>target << 2);
    store<f32>(to, g * (<f32>Math.exp(<f64>(load<f32>(xr + (<usize>target << 2)) - lse)) - 1));
  }
}

/**
 * Rotary embedding. Params: 0 x, 1 out, 2 positions, 3 invFreq (f64), 4 batch, 5 heads, 6 seq, 7 headDim,
 * 8 inverse. Items: batch x seq positions; cos/sin for one position are computed once in scratch.
 */
export function ropeKernel(params: usize, begin: i32, end: i32, scratch: usize): void {
  const x = pp(params, 0);
  const out = pp(params, 1);
  const positions = pp(params, 2);
  const invFreq = pp(params, 3);
  const heads = pi(params, 5);
  const seq = pi(params, 6);
  const headDim = pi(params, 7);
  const sign: f64 = pi(params, 8) != 0 ? -1 : 1;
  const half = headDim >> 1;
  const cosT = (scratch + 15) & ~(<usize>15);
  const sinT = cosT + ((<usize>half << 2) + 16 & ~(<usize>15));
  const rowBytes = <usize>headDim << 2;
  for (let item = begin; item < end; item++) {
    const b = item / seq;
    const t = item - b * seq;
    const pos = <f64>load<i32>(positions + (<usize>item << 2));
    for (let i = 0; i < half; i++) {
      const angle = pos * load<f64>(invFreq + (<usize>i << 3));
      store<f32>(cosT + (<usize>i << 2), <f32>Math.cos(angle));
      store<f32>(sinT + (<usize>i << 2), <f32>(sign * Math.sin(angle)));
    }
    for (let h = 0; h < heads; h++) {
      const off = (<usize>((b * heads + h) * seq + t)) * rowBytes;
      const x1 = x + off;
      const x2 = x1 + (<usize>half << 2);
      const o1 = out + off;
      const o2 = o1 + (<usize>half << 2);
      let i = 0;
      for (; i + 4 <= half; i += 4) {
        const o = <usize>i << 2;
        const c = v128.load(cosT + o);
        const s = v128.load(sinT + o);
        const a = v128.load(x1 + o);
        const bb = v128.load(x2 + o);
        v128.store(o1 + o, f32x4.sub(f32x4.mul(a, c), f32x4.mul(bb, s)));
        v128.store(o2 + o, f32x4.add(f32x4.mul(bb, c), f32x4.mul(a, s)));
      }
      for (; i < half; i++) {
        const o = <usize>i << 2;
        const c = load<f32>(cosT + o);
        const s = load<f32>(sinT + o);
        const a = load<f32>(x1 + o);
        const bb = load<f32>(x2 + o);
        store<f32>(o1 + o, a * c - bb * s);
        store<f32>(o2 + o, bb * c + a * s);
      }
    }
  }
}
