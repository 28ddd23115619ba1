// Scaled dot-product attention over [batch, heads, seq, headDim] (grouped-query heads, causal offset,
// additive key bias), forward and backward from the saved probabilities. Dot products and row updates are
// f32x4 over headDim. q, k, v, out and the gradients are addressed by element strides [batch, head, position]
// (src/backend/backend.ts attentionStrides: [batch, heads, seq, headDim] blocks or token rows); probabilities
// are always [batch, heads, tq, width] blocks.

import { loadTail, pf, pi, pp, storeTail } from "./common";
import { rowDot, rowMax, rowScale } from "./rows";
import { vexp } from "./vmath";

/** y[0..n) += s * x[0..n) */
function axpy(y: usize, x: usize, s: f32, n: i32): void {
  const sv = f32x4.splat(s);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const o = <usize>j << 2;
    v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(sv, v128.load(x + o))));
  }
  if (j < n) {
    const o = <usize>j << 2;
    storeTail(y + o, f32x4.add(loadTail(y + o, n - j), f32x4.mul(sv, loadTail(x + o, n - j))), n - j);
  }
}

/** The dot products of x with four consecutive rows y, y + pitch, y + 2 pitch, y + 3 pitch, as one vector. */
function dot4(x: usize, y: usize, pitch: usize, n: i32): v128 {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  const y1 = y + pitch;
  const y2 = y1 + pitch;
  const y3 = y2 + pitch;
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const o = <usize>j << 2;
    const xv = v128.load(x + o);
    a0 = f32x4.add(a0, f32x4.mul(xv, v128.load(y + o)));
    a1 = f32x4.add(a1, f32x4.mul(xv, v128.load(y1 + o)));
    a2 = f32x4.add(a2, f32x4.mul(xv, v128.load(y2 + o)));
    a3 = f32x4.add(a3, f32x4.mul(xv, v128.load(y3 + o)));
  }
  if (j < n) {
    const o = <usize>j << 2;
    const t = n - j;
    const xv = loadTail(x + o, t);
    a0 = f32x4.add(a0, f32x4.mul(xv, loadTail(y + o, t)));
    a1 = f32x4.add(a1, f32x4.mul(xv, loadTail(y1 + o, t)));
    a2 = f32x4.add(a2, f32x4.mul(xv, loadTail(y2 + o, t)));
    a3 = f32x4.add(a3, f32x4.mul(xv, loadTail(y3 + o, t)));
  }
  // transpose-and-add: lane r of the result is the sum of the lanes of a_r
  const s01 = f32x4.add(v128.shuffle<i32>(a0, a1, 0, 1, 4, 5), v128.shuffle<i32>(a0, a1, 2, 3, 6, 7));
  const s23 = f32x4.add(v128.shuffle<i32>(a2, a3, 0, 1, 4, 5), v128.shuffle<i32>(a2, a3, 2, 3, 6, 7));
  return f32x4.add(v128.shuffle<i32>(s01, s23, 0, 2, 4, 6), v128.shuffle<i32>(s01, s23, 1, 3, 5, 7));
}

/** y[0..n) += s0 x0 + s1 x1 + s2 x2 + s3 x3 for four consecutive rows x0 = x, x1 = x + pitch, ... */
function axpy4(y: usize, x: usize, pitch: usize, s: v128, n: i32): void {
  const s0 = f32x4.splat(f32x4.extract_lane(s, 0));
  const s1 = f32x4.splat(f32x4.extract_lane(s, 1));
  const s2 = f32x4.splat(f32x4.extract_lane(s, 2));
  const s3 = f32x4.splat(f32x4.extract_lane(s, 3));
  const x1 = x + pitch;
  const x2 = x1 + pitch;
  const x3 = x2 + pitch;
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const o = <usize>j << 2;
    const a = f32x4.add(f32x4.mul(s0, v128.load(x + o)), f32x4.mul(s1, v128.load(x1 + o)));
    const b = f32x4.add(f32x4.mul(s2, v128.load(x2 + o)), f32x4.mul(s3, v128.load(x3 + o)));
    v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.add(a, b)));
  }
  if (j < n) {
    const o = <usize>j << 2;
    const t = n - j;
    const a = f32x4.add(f32x4.mul(s0, loadTail(x + o, t)), f32x4.mul(s1, loadTail(x1 + o, t)));
    const b = f32x4.add(f32x4.mul(s2, loadTail(x2 + o, t)), f32x4.mul(s3, loadTail(x3 + o, t)));
    storeTail(y + o, f32x4.add(loadTail(y + o, t), f32x4.add(a, b)), t);
  }
}

/**
 * Scaled scores of query row qi against keys jj in [from, to) of keys (rows rowBytes apart), into pr + jj, plus
 * the key bias row when given.
 */
function scoreRange(
  qi: usize,
  keys: usize,
  rowBytes: usize,
  from: i32,
  to: i32,
  d: i32,
  scale: f32,
  bias: usize,
  pr: usize,
): void {
  const scaleV = f32x4.splat(scale);
  let jj = from;
  for (; jj + 4 <= to; jj += 4) {
    let s4 = f32x4.mul(dot4(qi, keys + <usize>jj * rowBytes, rowBytes, d), scaleV);
    if (bias != 0) s4 = f32x4.add(s4, v128.load(bias + (<usize>jj << 2)));
    v128.store(pr + (<usize>jj << 2), s4);
  }
  for (; jj < to; jj++) {
    let s = rowDot(qi, keys + <usize>jj * rowBytes, d) * scale;
    if (bias != 0) s += load<f32>(bias + (<usize>jj << 2));
    store<f32>(pr + (<usize>jj << 2), s);
  }
}

/** oi += sum of probabilities pr[t] times value rows t (rowBytes apart) for t in [from, to). */
function weightedRange(oi: usize, values: usize, rowBytes: usize, pr: usize, from: i32, to: i32, d: i32): void {
  let t = from;
  for (; t + 4 <= to; t += 4) {
    axpy4(oi, values + <usize>t * rowBytes, rowBytes, v128.load(pr + (<usize>t << 2)), d);
  }
  for (; t < to; t++) {
    const p = load<f32>(pr + (<usize>t << 2));
    if (p != 0) axpy(oi, values + <usize>t * rowBytes, p, d);
  }
}

/**
 * Params: 0 batch, 1 heads, 2 kvHeads, 3 tq, 4 tk, 5 headDim, 6 scale, 7 causal, 8 causalOffset, 9 q, 10 k,
 * 11 v, 12 keyBias (0: none), 13 out, 14 probs, 15 kvStride, 16 window (0: none), 17 shared keys (0: none),
 * 18 shared values, 19 shared length, 20-22 strides [batch, head, position] of q and out, 23-25 those of k and v.
 * Items: batch x heads x tq query rows.
 */
export function attentionKernel(params: usize, begin: i32, end: i32, _scratch: usize): void {
  const heads = pi(params, 1);
  const kvHeads = pi(params, 2);
  const tq = pi(params, 3);
  const tk = pi(params, 4);
  const d = pi(params, 5);
  const scale = <f32>pf(params, 6);
  const causal = pi(params, 7) != 0;
  const causalOffset = pi(params, 8);
  const q = pp(params, 9);
  const k = pp(params, 10);
  const v = pp(params, 11);
  const keyBias = pp(params, 12);
  const out = pp(params, 13);
  const probs = pp(params, 14);
  // (15: positions allocated per key/value head, >= tk, already in the k/v strides: a preallocated KV cache is
  // read in place)
  // sliding window (with causal): query i sees keys j with i + causalOffset - j < window; 0 = none
  const window = pi(params, 16);
  // keys every row sees before its own, [kvHeads, shared, headDim]: columns 0..shared of each probability row
  // (never with a key bias or window: the op forbids both)
  const sharedK = pp(params, 17);
  const sharedV = pp(params, 18);
  const shared = pi(params, 19);
  const qB = pi(params, 20);
  const qH = pi(params, 21);
  const qR = pi(params, 22);
  const kB = pi(params, 23);
  const kH = pi(params, 24);
  const kPitch = <usize>pi(params, 25) << 2;
  const width = shared + tk;
  const group = heads / kvHeads;
  const rowBytes = <usize>d << 2;
  for (let item = begin; item < end; item++) {
    const bh = item / tq;
    const i = item - bh * tq;
    const b = bh / heads;
    const h = bh - b * heads;
    const kvh = h / group;
    const qOff = <usize>(b * qB + h * qH + i * qR) << 2;
    const qi = q + qOff;
    const kBase = k + (<usize>(b * kB + kvh * kH) << 2);
    const vBase = v + (<usize>(b * kB + kvh * kH) << 2);
    const pr = probs + (<usize>item * <usize>width << 2);
    const own = pr + (<usize>shared << 2);
    const oi = out + qOff;
    // own keys j < visible are seen
    let visible = tk;
    if (causal) visible = max(0, min(tk, i + causalOffset + 1));
    let first = 0;
    if (causal && window > 0) first = min(visible, max(0, i + causalOffset - window + 1));
    if (shared > 0) {
      const sBase = <usize>(kvh * shared) * rowBytes;
      scoreRange(qi, sharedK + sBase, rowBytes, 0, shared, d, scale, 0, pr);
    }
    const biasRow = keyBias != 0 ? keyBias + (<usize>(b * tk) << 2) : 0;
    scoreRange(qi, kBase, kPitch, first, visible, d, scale, biasRow, own);
    // the columns seen: [lo, hi) of the row (shared ones and then own ones, contiguous)
    const lo = shared > 0 ? 0 : first;
    const hi = shared + visible;
    const count = hi - lo;
    const seen = pr + (<usize>lo << 2);
    const mx = rowMax(seen, count);
    // exponentials and their sum (masked keys get probability 0)
    const mv = f32x4.splat(mx);
    let acc = f32x4.splat(0);
    let j = lo;
    for (; j + 4 <= hi; j += 4) {
      const o = <usize>j << 2;
      const e = vexp(f32x4.sub(v128.load(pr + o), mv));
      v128.store(pr + o, e);
      acc = f32x4.add(acc, e);
    }
    let sum = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
    for (; j < hi; j++) {
      const o = <usize>j << 2;
      const e = f32x4.extract_lane(vexp(f32x4.splat(load<f32>(pr + o) - mx)), 0);
      store<f32>(pr + o, e);
      sum += e;
    }
    // a row with no visible key gets 0/0 = NaN probabilities, as the reference does
    rowScale(seen, seen, count, 1 / sum);
    for (let t = 0; t < lo; t++) store<f32>(pr + (<usize>t << 2), 0);
    for (let t = hi; t < width; t++) store<f32>(pr + (<usize>t << 2), count == 0 ? NaN : 0);
    memory.fill(oi, 0, rowBytes);
    if (count == 0) {
      for (let t = 0; t < lo; t++) store<f32>(pr + (<usize>t << 2), NaN);
      rowScale(oi, oi, d, NaN);
      continue;
    }
    if (shared > 0) weightedRange(oi, sharedV + <usize>(kvh * shared) * rowBytes, rowBytes, pr, 0, shared, d);
    weightedRange(oi, vBase, kPitch, own, first, visible, d);
  }
}

/**
 * Params: 0 batch, 1 heads, 2 kvHeads, 3 tq, 4 tk, 5 headDim, 6 scale, 7 q, 8 k, 9 v, 10 probs, 11 dOut,
 * 12 dq, 13 dk, 14 dv, 15-17 strides [batch, head, position] of q, dOut and dq, 18-20 those of k, v, dk and dv.
 * Items: batch x kvHeads groups (a group owns its dk/dv rows and its heads' dq rows).
 * scratch holds one row of dProbs (tk floats).
 */
export function attentionBackwardKernel(params: usize, begin: i32, end: i32, scratch: usize): void {
  const heads = pi(params, 1);
  const kvHeads = pi(params, 2);
  const tq = pi(params, 3);
  const tk = pi(params, 4);
  const d = pi(params, 5);
  const scale = <f32>pf(params, 6);
  const q = pp(params, 7);
  const k = pp(params, 8);
  const v = pp(params, 9);
  const probs = pp(params, 10);
  const dOut = pp(params, 11);
  const dq = pp(params, 12);
  const dk = pp(params, 13);
  const dv = pp(params, 14);
  const qB = pi(params, 15);
  const qH = pi(params, 16);
  const qPitch = <usize>pi(params, 17) << 2;
  const kB = pi(params, 18);
  const kH = pi(params, 19);
  const kPitch = <usize>pi(params, 20) << 2;
  const group = heads / kvHeads;
  const rowBytes = <usize>d << 2;
  const dProbs = (scratch + 15) & ~(<usize>15);
  for (let item = begin; item < end; item++) {
    const b = item / kvHeads;
    const kvh = item - b * kvHeads;
    const kvOff = <usize>(b * kB + kvh * kH) << 2;
    const kBase = k + kvOff;
    const vBase = v + kvOff;
    const dkBase = dk + kvOff;
    const dvBase = dv + kvOff;
    for (let j = 0; j < tk; j++) {
      memory.fill(dkBase + <usize>j * kPitch, 0, rowBytes);
      memory.fill(dvBase + <usize>j * kPitch, 0, rowBytes);
    }
    for (let g = 0; g < group; g++) {
      const h = kvh * group + g;
      const qOff = <usize>(b * qB + h * qH) << 2;
      for (let i = 0; i < tq; i++) memory.fill(dq + qOff + <usize>i * qPitch, 0, rowBytes);
      for (let i = 0; i < tq; i++) {
        const rowOff = qOff + <usize>i * qPitch;
        const qi = q + rowOff;
        const gi = dOut + rowOff;
        const dqi = dq + rowOff;
        const pr = probs + (<usize>((b * heads + h) * tq + i) * <usize>tk << 2);
        // keys [0, last) may have non-zero probability (a causal row ends with zeros)
        let last = tk;
        while (last > 0 && load<f32>(pr + (<usize>(last - 1) << 2)) == 0) last--;
        let dotV = f32x4.splat(0);
        let j = 0;
        for (; j + 4 <= last; j += 4) {
          const dp = dot4(gi, vBase + <usize>j * kPitch, kPitch, d);
          v128.store(dProbs + (<usize>j << 2), dp);
          dotV = f32x4.add(dotV, f32x4.mul(dp, v128.load(pr + (<usize>j << 2))));
        }
        let dot: f32 =
          f32x4.extract_lane(dotV, 0) + f32x4.extract_lane(dotV, 1) + (f32x4.extract_lane(dotV, 2) + f32x4.extract_lane(dotV, 3));
        for (; j < last; j++) {
          const p = load<f32>(pr + (<usize>j << 2));
          const dp = p != 0 ? rowDot(gi, vBase + <usize>j * kPitch, d) : 0;
          store<f32>(dProbs + (<usize>j << 2), dp);
          dot += dp * p;
        }
        const dotS = f32x4.splat(dot);
        const scaleS = f32x4.splat(scale);
        j = 0;
        for (; j + 4 <= last; j += 4) {
          const p = v128.load(pr + (<usize>j << 2));
          const dScore = f32x4.mul(f32x4.mul(p, f32x4.sub(v128.load(dProbs + (<usize>j << 2)), dotS)), scaleS);
          const off = <usize>j * kPitch;
          axpy4(dqi, kBase + off, kPitch, dScore, d);
          axpy(dkBase + off, qi, f32x4.extract_lane(dScore, 0), d);
          axpy(dkBase + off + kPitch, qi, f32x4.extract_lane(dScore, 1), d);
          axpy(dkBase + off + 2 * kPitch, qi, f32x4.extract_lane(dScore, 2), d);
          axpy(dkBase + off + 3 * kPitch, qi, f32x4.extract_lane(dScore, 3), d);
          axpy(dvBase + off, gi, f32x4.extract_lane(p, 0), d);
          axpy(dvBase + off + kPitch, gi, f32x4.extract_lane(p, 1), d);
          axpy(dvBase + off + 2 * kPitch, gi, f32x4.extract_lane(p, 2), d);
          axpy(dvBase + off + 3 * kPitch, gi, f32x4.extract_lane(p, 3), d);
        }
        for (; j < last; j++) {
          const p = load<f32>(pr + (<usize>j << 2));
          if (p == 0) continue;
          const dScore = p * (load<f32>(dProbs + (<usize>j << 2)) - dot) * scale;
          const off = <usize>j * kPitch;
          axpy(dqi, kBase + off, dScore, d);
          axpy(dkBase + off, qi, dScore, d);
          axpy(dvBase + off, gi, p, d);
        }
      }
    }
  }
}
