// Scaled dot-product attention over [batch, heads, seq, headDim] (grouped-query heads, causal offset,
// additive key bias), forward and backward from the saved probabilities. Dot products and row updates are
// f32x4 over headDim.

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

/**
 * Params: 0 batch, 1 heads, 2 kvHeads, 3 tq, 4 tk, 5 headDim, 6 scale, 7 causal, 8 causalOffset, 9 q, 10 k,
 * 11 v, 12 keyBias (0: none), 13 out, 14 probs. Items: batch x heads x tq query rows.
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
  const group = heads / kvHeads;
  const rowBytes = <usize>d << 2;
  for (let item = begin; item < end; item++) {
    const bh = item / tq;
    const i = item - bh * tq;
    const b = bh / heads;
    const h = bh - b * heads;
    const kvh = h / group;
    const qi = q + <usize>item * rowBytes;
    const kBase = k + <usize>((b * kvHeads + kvh) * tk) * rowBytes;
    const vBase = v + <usize>((b * kvHeads + kvh) * tk) * rowBytes;
    const pr = probs + (<usize>item * <usize>tk << 2);
    const oi = out + <usize>item * rowBytes;
    // keys j < visible are seen
    let visible = tk;
    if (causal) visible = max(0, min(tk, i + causalOffset + 1));
    for (let j = 0; j < visible; j++) {
      let s = rowDot(qi, kBase + <usize>j * rowBytes, d) * scale;
      if (keyBias != 0) s += load<f32>(keyBias + (<usize>(b * tk + j) << 2));
      store<f32>(pr + (<usize>j << 2), s);
    }
    const mx = rowMax(pr, visible);
    // exponentials and their sum (masked keys get probability 0)
    const mv = f32x4.splat(mx);
    let acc = f32x4.splat(0);
    let j = 0;
    for (; j + 4 <= visible; j += 4) {
      const o = <usize>j << 2;
      const e = vexp(f32x4.sub(v128.load(pr + o), mv));
      v128.store(pr + o, e);
      acc = f32x4.add(acc, e);
    }
    let sum = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
    for (; j < visible; j++) {
      const o = <usize>j << 2;
      const e = f32x4.extract_lane(vexp(f32x4.splat(load<f32>(pr + o) - mx)), 0);
      store<f32>(pr + o, e);
      sum += e;
    }
    // a row with no visible key gets 0/0 = NaN probabilities, as the reference does
    rowScale(pr, pr, visible, 1 / sum);
    for (let jj = visible; jj < tk; jj++) store<f32>(pr + (<usize>jj << 2), visible == 0 ? NaN : 0);
    memory.fill(oi, 0, rowBytes);
    if (visible == 0) {
      rowScale(oi, oi, d, NaN);
      continue;
    }
    for (let jj = 0; jj < visible; jj++) {
      const p = load<f32>(pr + (<usize>jj << 2));
      if (p != 0) axpy(oi, vBase + <usize>jj * rowBytes, p, d);
    }
  }
}

/**
 * Params: 0 batch, 1 heads, 2 kvHeads, 3 tq, 4 tk, 5 headDim, 6 scale, 7 q, 8 k, 9 v, 10 probs, 11 dOut,
 * 12 dq, 13 dk, 14 dv. Items: batch x kvHeads groups (a group owns its dk/dv rows and its heads' dq rows).
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
  const group = heads / kvHeads;
  const rowBytes = <usize>d << 2;
  const dProbs = (scratch + 15) & ~(<usize>15);
  for (let item = begin; item < end; item++) {
    const b = item / kvHeads;
    const kvh = item - b * kvHeads;
    const kvOff = <usize>(item * tk) * rowBytes;
    const kBase = k + kvOff;
    const vBase = v + kvOff;
    const dkBase = dk + kvOff;
    const dvBase = dv + kvOff;
    memory.fill(dkBase, 0, <usize>tk * rowBytes);
    memory.fill(dvBase, 0, <usize>tk * rowBytes);
    for (let g = 0; g < group; g++) {
      const h = kvh * group + g;
      const qOff = <usize>((b * heads + h) * tq) * rowBytes;
      memory.fill(dq + qOff, 0, <usize>tq * rowBytes);
      for (let i = 0; i < tq; i++) {
        const rowOff = qOff + <usize>i * rowBytes;
        const qi = q + rowOff;
        const gi = dOut + rowOff;
        const dqi = dq + rowOff;
        const pr = probs + (<usize>((b * heads + h) * tq + i) * <usize>tk << 2);
        let dot: f32 = 0;
        for (let j = 0; j < tk; j++) {
          const p = load<f32>(pr + (<usize>j << 2));
          let dp: f32 = 0;
          if (p != 0) {
            dp = rowDot(gi, vBase + <usize>j * rowBytes, d);
            dot += dp * p;
          }
          store<f32>(dProbs + (<usize>j << 2), dp);
        }
        for (let j = 0; j < tk; j++) {
          const p = load<f32>(pr + (<usize>j << 2));
          if (p == 0) continue;
          const dScore = p * (load<f32>(dProbs + (<usize>j << 2)) - dot) * scale;
          const off = <usize>j * rowBytes;
          axpy(dqi, kBase + off, dScore, d);
          axpy(dkBase + off, qi, dScore, d);
          axpy(dvBase + off, gi, p, d);
        }
      }
    }
  }
}
