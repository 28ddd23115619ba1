// The reference backend: plain TypeScript loops, written to be obviously right rather than fast. It is the
// oracle the native and wasm backends are tested against, and the only backend that computes in float64
// (the gradient checks need it).

import {
  type AdamWStep,
  type AdamWTensor,
  type AnyArray,
  type AttentionArgs,
  type AttentionBackwardArgs,
  attentionStrides,
  type Backend,
  type BinaryOp,
  type DType,
  type FloatArray,
  type GemmArgs,
  type ReduceOp,
  type SampleRowsArgs,
  scanNonzeroRows,
  type TypedArrayOf,
  type UnaryOp,
} from "./backend.js";

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2 = 1 / Math.SQRT2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * erf to float64 precision: the Maclaurin series near 0, the Laplace continued fraction of erfc in the tails.
 * The oracle must be more precise than float32 so that float32 backends can be judged against it.
 */
export function erf(x: number): number {
  const z = Math.abs(x);
  if (z < 3) {
    // erf(z) = 2/sqrt(pi) * sum_n (-1)^n z^(2n+1) / (n! (2n+1))
    let term = z;
    let sum = z;
    for (let n = 1; n < 200; n++) {
      term *= (-z * z) / n;
      const contribution = term / (2 * n + 1);
      sum += contribution;
      if (Math.abs(contribution) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * sum * (2 / Math.sqrt(Math.PI));
  }
  // erfc(z) = exp(-z^2)/sqrt(pi) / (z + (1/2)/(z + 1/(z + (3/2)/(z + 2/(z + ...))))), evaluated bottom-up.
  let fraction = z;
  for (let n = 60; n >= 1; n--) fraction = z + n / 2 / fraction;
  const erfc = Math.exp(-z * z) / Math.sqrt(Math.PI) / fraction;
  return Math.sign(x) * (1 - erfc);
}

function unaryValue(op: UnaryOp, x: number, alpha: number): number {
  switch (op) {
    case "neg":
      return -x;
    case "exp":
      return Math.exp(x);
    case "log":
      return Math.log(x);
    case "sqrt":
      return Math.sqrt(x);
    case "rsqrt":
      return 1 / Math.sqrt(x);
    case "tanh":
      return Math.tanh(x);
    case "sigmoid":
      return 1 / (1 + Math.exp(-x));
    case "relu":
      return x > 0 ? x : 0;
    case "gelu":
      return 0.5 * x * (1 + erf(x * INV_SQRT_2));
    case "geluTanh":
      return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
    case "silu":
      return x / (1 + Math.exp(-x));
    case "abs":
      return Math.abs(x);
    case "square":
      return x * x;
    case "scale":
      return x * alpha;
    case "shift":
      return x + alpha;
    case "pow":
      return x ** alpha;
    case "rdiv":
      return alpha / x;
  }
}

/** d f(x) / dx, given x and y = f(x). */
function unaryDerivative(op: UnaryOp, x: number, y: number, alpha: number): number {
  switch (op) {
    case "neg":
      return -1;
    case "exp":
      return y;
    case "log":
      return 1 / x;
    case "sqrt":
      return 0.5 / y;
    case "rsqrt":
      return -0.5 * y * y * y;
    case "tanh":
      return 1 - y * y;
    case "sigmoid":
      return y * (1 - y);
    case "relu":
      return x > 0 ? 1 : 0;
    case "gelu": {
      const cdf = 0.5 * (1 + erf(x * INV_SQRT_2));
      return cdf + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
    }
    case "geluTanh": {
      const inner = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
      const t = Math.tanh(inner);
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
    }
    case "silu": {
      const s = 1 / (1 + Math.exp(-x));
      return s * (1 + x * (1 - s));
    }
    case "abs":
      return x > 0 ? 1 : x < 0 ? -1 : 0;
    case "square":
      return 2 * x;
    case "scale":
      return alpha;
    case "shift":
      return 1;
    case "pow":
      return alpha * x ** (alpha - 1);
    case "rdiv":
      return -alpha / (x * x);
  }
}

function binaryValue(op: BinaryOp, a: number, b: number): number {
  switch (op) {
    case "add":
      return a + b;
    case "sub":
      return a - b;
    case "mul":
      return a * b;
    case "div":
      return a / b;
    case "pow":
      return a ** b;
    case "max":
      return a >= b ? a : b;
    case "min":
      return a <= b ? a : b;
    case "eq":
      return a === b ? 1 : 0;
    case "gt":
      return a > b ? 1 : 0;
    case "lt":
      return a < b ? 1 : 0;
  }
}

/** Calls visit(outIndex, offsets...) for every index of shape in row-major order. */
function forEachIndex(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
  visit: (i: number, offsets: number[]) => void,
): void {
  const rank = shape.length;
  let total = 1;
  for (const d of shape) total *= d;
  if (total === 0) return;
  const index = new Array<number>(rank).fill(0);
  const offsets = new Array<number>(strides.length).fill(0);
  for (let i = 0; i < total; i++) {
    visit(i, offsets);
    for (let axis = rank - 1; axis >= 0; axis--) {
      index[axis]++;
      for (let s = 0; s < strides.length; s++) offsets[s] += strides[s][axis];
      if (index[axis] < shape[axis]) break;
      for (let s = 0; s < strides.length; s++) offsets[s] -= strides[s][axis] * shape[axis];
      index[axis] = 0;
    }
  }
}

function gemm(g: GemmArgs): void {
  const { m, n, k } = g;
  // Element (i, p) of op(A) and (p, j) of op(B), whatever the storage order.
  const aRow = g.transA ? 1 : k;
  const aCol = g.transA ? m : 1;
  const bRow = g.transB ? 1 : n;
  const bCol = g.transB ? k : 1;
  const row = new Float64Array(n);
  const bias = g.bias ?? null;
  if (bias && (bias.length < n || g.beta !== 0)) {
    throw new RangeError(
      `gemm: a bias needs n = ${n} values (got ${bias.length}) and beta 0 (got ${g.beta})`,
    );
  }
  for (let bi = 0; bi < g.batch; bi++) {
    const a0 = g.aOffset + bi * g.strideA;
    const b0 = g.bOffset + bi * g.strideB;
    const c0 = g.cOffset + bi * g.strideC;
    for (let i = 0; i < m; i++) {
      row.fill(0);
      for (let p = 0; p < k; p++) {
        const av = g.a[a0 + i * aRow + p * aCol];
        const bBase = b0 + p * bRow;
        for (let j = 0; j < n; j++) row[j] += av * g.b[bBase + j * bCol];
      }
      for (let j = 0; j < n; j++) {
        const ci = c0 + i * n + j;
        if (bias) g.c[ci] = g.alpha * row[j] + bias[j];
        else g.c[ci] = g.beta === 0 ? g.alpha * row[j] : g.alpha * row[j] + g.beta * g.c[ci];
      }
    }
  }
}

function attention(a: AttentionArgs): void {
  const { batch, heads, kvHeads, tq, tk, headDim: d } = a;
  const window = a.window ?? 0;
  const group = heads / kvHeads;
  // shared keys are columns 0..s of every row, the row's own keys columns s..s + tk
  const s = a.shared?.length ?? 0;
  const width = s + tk;
  const scores = new Float64Array(width);
  const [qb, qh, qr] = attentionStrides(a.layout, heads, tq, d);
  const [kb, kh, kr] = attentionStrides(a.layout, kvHeads, a.kvStride ?? tk, d);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const kvh = Math.floor(h / group);
      const qBase = b * qb + h * qh;
      const kBase = b * kb + kvh * kh;
      const sBase = kvh * s * d;
      // key or value element e of column c
      const keyAt = (c: number, e: number) =>
        c < s ? (a.shared?.k[sBase + c * d + e] ?? 0) : a.k[kBase + (c - s) * kr + e];
      const valueAt = (c: number, e: number) =>
        c < s ? (a.shared?.v[sBase + c * d + e] ?? 0) : a.v[kBase + (c - s) * kr + e];
      for (let i = 0; i < tq; i++) {
        let max = -Infinity;
        for (let c = 0; c < width; c++) {
          const j = c - s; // own key index (negative: shared, always visible)
          if (
            j >= 0 &&
            a.causal &&
            (j > i + a.causalOffset || (window > 0 && i + a.causalOffset - j >= window))
          ) {
            scores[c] = -Infinity;
            continue;
          }
          let dot = 0;
          for (let e = 0; e < d; e++) dot += a.q[qBase + i * qr + e] * keyAt(c, e);
          let score = dot * a.scale;
          if (a.keyBias) score += a.keyBias[b * tk + j];
          scores[c] = score;
          if (score > max) max = score;
        }
        let sum = 0;
        for (let c = 0; c < width; c++) {
          const e = scores[c] === -Infinity ? 0 : Math.exp(scores[c] - max);
          scores[c] = e;
          sum += e;
        }
        const pBase = ((b * heads + h) * tq + i) * width;
        for (let c = 0; c < width; c++) a.probs[pBase + c] = scores[c] / sum;
        for (let e = 0; e < d; e++) {
          let acc = 0;
          for (let c = 0; c < width; c++) acc += a.probs[pBase + c] * valueAt(c, e);
          a.out[qBase + i * qr + e] = acc;
        }
      }
    }
  }
}

function attentionBackward(a: AttentionBackwardArgs): void {
  const { batch, heads, kvHeads, tq, tk, headDim: d } = a;
  const group = heads / kvHeads;
  a.dq.fill(0);
  a.dk.fill(0);
  a.dv.fill(0);
  const dProbs = new Float64Array(tk);
  const [qb, qh, qr] = attentionStrides(a.layout, heads, tq, d);
  const [kb, kh, kr] = attentionStrides(a.layout, kvHeads, tk, d);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const kvh = Math.floor(h / group);
      const qBase = b * qb + h * qh;
      const kBase = b * kb + kvh * kh;
      for (let i = 0; i < tq; i++) {
        const pBase = ((b * heads + h) * tq + i) * tk;
        const qi = qBase + i * qr;
        let dot = 0;
        for (let j = 0; j < tk; j++) {
          let dp = 0;
          for (let c = 0; c < d; c++) dp += a.dOut[qi + c] * a.v[kBase + j * kr + c];
          dProbs[j] = dp;
          dot += dp * a.probs[pBase + j];
        }
        for (let j = 0; j < tk; j++) {
          const p = a.probs[pBase + j];
          const dScore = p * (dProbs[j] - dot) * a.scale;
          const kj = kBase + j * kr;
          for (let c = 0; c < d; c++) {
            a.dq[qi + c] += dScore * a.k[kj + c];
            a.dk[kj + c] += dScore * a.q[qi + c];
            a.dv[kj + c] += p * a.dOut[qi + c];
          }
        }
      }
    }
  }
}

function makeArray<D extends DType>(dtype: D, n: number): TypedArrayOf<D> {
  if (dtype === "int32") return new Int32Array(n) as TypedArrayOf<D>;
  if (dtype === "float64") return new Float64Array(n) as TypedArrayOf<D>;
  return new Float32Array(n) as TypedArrayOf<D>;
}

/** sampleRows' tempered weights of one row (grown to the widest row seen). */
let sampleWeights = new Float64Array(0);

export const referenceBackend: Backend = {
  name: "reference",
  threads: 1,
  supportsFloat64: true,

  alloc: makeArray,
  release(_array: AnyArray): void {
    // Garbage collection reclaims reference arrays; pooling would only obscure the oracle.
  },

  gemm,

  unary(op: UnaryOp, x: FloatArray, out: FloatArray, n: number, alpha: number): void {
    for (let i = 0; i < n; i++) out[i] = unaryValue(op, x[i], alpha);
  },
  unaryBackward(op, x, y, dy, dx, n, alpha): void {
    for (let i = 0; i < n; i++) dx[i] = dy[i] * unaryDerivative(op, x[i], y[i], alpha);
  },
  binary(op, a, aStrides, b, bStrides, out, shape): void {
    forEachIndex(shape, [aStrides, bStrides], (i, [ao, bo]) => {
      out[i] = binaryValue(op, a[ao], b[bo]);
    });
  },
  where(cond, condStrides, a, aStrides, b, bStrides, out, shape): void {
    forEachIndex(shape, [condStrides, aStrides, bStrides], (i, [co, ao, bo]) => {
      out[i] = cond[co] !== 0 ? a[ao] : b[bo];
    });
  },
  reduce(op: ReduceOp, x, out, outer, size, inner): void {
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < inner; j++) {
        let acc = op === "sum" ? 0 : -Infinity;
        for (let r = 0; r < size; r++) {
          const v = x[(o * size + r) * inner + j];
          acc = op === "sum" ? acc + v : v > acc || Number.isNaN(v) ? v : acc;
        }
        out[o * inner + j] = acc;
      }
    }
  },
  argmax(x, out, outer, size, inner): void {
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < inner; j++) {
        let best = 0;
        for (let r = 1; r < size; r++) {
          if (x[(o * size + r) * inner + j] > x[(o * size + best) * inner + j]) best = r;
        }
        out[o * inner + j] = best;
      }
    }
  },
  sumSquares(x, n): number {
    let acc = 0;
    for (let i = 0; i < n; i++) acc += x[i] * x[i];
    return acc;
  },
  copyStrided(src, srcOffset, srcStrides, dst, dstOffset, dstStrides, shape): void {
    forEachIndex(shape, [srcStrides, dstStrides], (_i, [so, dof]) => {
      dst[dstOffset + dof] = src[srcOffset + so];
    });
  },
  fill(out, value, offset, n): void {
    out.fill(value, offset, offset + n);
  },

  softmax(x, out, rows, cols): void {
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let max = -Infinity;
      for (let c = 0; c < cols; c++) max = Math.max(max, x[base + c]);
      let sum = 0;
      for (let c = 0; c < cols; c++) sum += Math.exp(x[base + c] - max);
      for (let c = 0; c < cols; c++) out[base + c] = Math.exp(x[base + c] - max) / sum;
    }
  },
  softmaxBackward(y, dy, dx, rows, cols): void {
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let dot = 0;
      for (let c = 0; c < cols; c++) dot += dy[base + c] * y[base + c];
      for (let c = 0; c < cols; c++) dx[base + c] = y[base + c] * (dy[base + c] - dot);
    }
  },
  logSoftmax(x, out, rows, cols): void {
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let max = -Infinity;
      for (let c = 0; c < cols; c++) max = Math.max(max, x[base + c]);
      let sum = 0;
      for (let c = 0; c < cols; c++) sum += Math.exp(x[base + c] - max);
      const lse = max + Math.log(sum);
      for (let c = 0; c < cols; c++) out[base + c] = x[base + c] - lse;
    }
  },
  logSoftmaxBackward(y, dy, dx, rows, cols): void {
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let sum = 0;
      for (let c = 0; c < cols; c++) sum += dy[base + c];
      for (let c = 0; c < cols; c++) dx[base + c] = dy[base + c] - Math.exp(y[base + c]) * sum;
    }
  },

  layerNorm(x, w, b, out, mean, rstd, rows, cols, eps): void {
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let mu = 0;
      for (let c = 0; c < cols; c++) mu += x[base + c];
      mu /= cols;
      let variance = 0;
      for (let c = 0; c < cols; c++) variance += (x[base + c] - mu) ** 2;
      variance /= cols;
      const rs = 1 / Math.sqrt(variance + eps);
      mean[r] = mu;
      rstd[r] = rs;
      for (let c = 0; c < cols; c++) {
        const xhat = (x[base + c] - mu) * rs;
        out[base + c] = xhat * (w ? w[c] : 1) + (b ? b[c] : 0);
      }
    }
  },
  layerNormBackward(dy, x, w, mean, rstd, dx, dw, db, rows, cols): void {
    if (dw) dw.fill(0, 0, cols);
    if (db) db.fill(0, 0, cols);
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let sumG = 0;
      let sumGX = 0;
      for (let c = 0; c < cols; c++) {
        const xhat = (x[base + c] - mean[r]) * rstd[r];
        const g = dy[base + c] * (w ? w[c] : 1);
        sumG += g;
        sumGX += g * xhat;
        if (dw) dw[c] += dy[base + c] * xhat;
        if (db) db[c] += dy[base + c];
      }
      for (let c = 0; c < cols; c++) {
        const xhat = (x[base + c] - mean[r]) * rstd[r];
        const g = dy[base + c] * (w ? w[c] : 1);
        dx[base + c] = (rstd[r] * (cols * g - sumG - xhat * sumGX)) / cols;
      }
    }
  },
  rmsNorm(x, w, out, rstd, rows, cols, eps): void {
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let ms = 0;
      for (let c = 0; c < cols; c++) ms += x[base + c] * x[base + c];
      const rs = 1 / Math.sqrt(ms / cols + eps);
      rstd[r] = rs;
      for (let c = 0; c < cols; c++) out[base + c] = x[base + c] * rs * (w ? w[c] : 1);
    }
  },
  rmsNormBackward(dy, x, w, rstd, dx, dw, rows, cols): void {
    if (dw) dw.fill(0, 0, cols);
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      const rs = rstd[r];
      let sumGX = 0;
      for (let c = 0; c < cols; c++) {
        const g = dy[base + c] * (w ? w[c] : 1);
        sumGX += g * x[base + c];
        if (dw) dw[c] += dy[base + c] * x[base + c] * rs;
      }
      for (let c = 0; c < cols; c++) {
        const g = dy[base + c] * (w ? w[c] : 1);
        dx[base + c] = rs * g - (rs * rs * rs * x[base + c] * sumGX) / cols;
      }
    }
  },

  nonzeroRows: scanNonzeroRows,

  gatherRows(table, ids, out, cols): void {
    for (let i = 0; i < ids.length; i++) {
      const src = ids[i] * cols;
      for (let c = 0; c < cols; c++) out[i * cols + c] = table[src + c];
    }
  },
  scatterAddRows(dOut, ids, dTable, cols, skipId): void {
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] === skipId) continue;
      const dst = ids[i] * cols;
      for (let c = 0; c < cols; c++) dTable[dst + c] += dOut[i * cols + c];
    }
  },

  crossEntropy(logits, targets, losses, lse, rows, cols, ignoreIndex): void {
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let max = -Infinity;
      for (let c = 0; c < cols; c++) max = Math.max(max, logits[base + c]);
      let sum = 0;
      for (let c = 0; c < cols; c++) sum += Math.exp(logits[base + c] - max);
      const l = max + Math.log(sum);
      lse[r] = l;
      losses[r] = targets[r] === ignoreIndex ? 0 : l - logits[base + targets[r]];
    }
  },
  crossEntropyBackward(logits, targets, lse, dLoss, dLogits, rows, cols, ignoreIndex): void {
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      if (targets[r] === ignoreIndex) {
        dLogits.fill(0, base, base + cols);
        continue;
      }
      for (let c = 0; c < cols; c++) {
        const p = Math.exp(logits[base + c] - lse[r]);
        dLogits[base + c] = dLoss[r] * (p - (c === targets[r] ? 1 : 0));
      }
    }
  },

  rope(x, out, positions, invFreq, batch, heads, seq, headDim, inverse): void {
    const half = headDim / 2;
    const sign = inverse ? -1 : 1;
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < heads; h++) {
        for (let t = 0; t < seq; t++) {
          const pos = positions[b * seq + t];
          const base = ((b * heads + h) * seq + t) * headDim;
          for (let i = 0; i < half; i++) {
            const angle = pos * invFreq[i];
            const cos = Math.cos(angle);
            const sin = sign * Math.sin(angle);
            const x1 = x[base + i];
            const x2 = x[base + i + half];
            out[base + i] = x1 * cos - x2 * sin;
            out[base + i + half] = x2 * cos + x1 * sin;
          }
        }
      }
    }
  },

  attention,
  attentionBackward,

  sampleRows(a: SampleRowsArgs): void {
    const { logits, cols, temperature } = a;
    const sampling = temperature > 0;
    if (sampling && sampleWeights.length < cols) sampleWeights = new Float64Array(cols);
    const weights = sampleWeights;
    for (let r = 0; r < a.rows; r++) {
      const base = r * cols;
      let max = -Infinity;
      for (let c = 0; c < cols; c++) if (logits[base + c] > max) max = logits[base + c];
      let sum = 0;
      for (let c = 0; c < cols; c++) sum += Math.exp(logits[base + c] - max);
      a.lse[r] = max + Math.log(sum);
      if (!sampling) {
        let best = 0;
        for (let c = 1; c < cols; c++) if (logits[base + c] > logits[base + best]) best = c;
        a.tokens[r] = best;
        continue;
      }
      // fround(x / t) is monotone in x, so the tempered maximum is the tempered max
      const temperedMax = Math.fround(max / temperature);
      let total = 0;
      for (let c = 0; c < cols; c++) {
        weights[c] = Math.exp(Math.fround(logits[base + c] / temperature) - temperedMax);
        total += weights[c];
      }
      let left = a.uniforms[r] * total;
      let token = cols - 1;
      for (let c = 0; c < cols; c++) {
        left -= weights[c];
        if (left <= 0) {
          token = c;
          break;
        }
      }
      a.tokens[r] = token;
    }
  },

  adamw(tensors: readonly AdamWTensor[], h: AdamWStep): void {
    const bc1 = 1 - h.beta1 ** h.step;
    const bc2 = 1 - h.beta2 ** h.step;
    for (const a of tensors) {
      for (let i = 0; i < a.n; i++) {
        const g = a.grad[i];
        a.param[i] *= 1 - a.lr * a.weightDecay;
        a.m[i] = h.beta1 * a.m[i] + (1 - h.beta1) * g;
        a.v[i] = h.beta2 * a.v[i] + (1 - h.beta2) * g * g;
        const denom = Math.sqrt(a.v[i] / bc2) + h.eps;
        a.param[i] -= (a.lr / bc1) * (a.m[i] / denom);
      }
    }
  },
};
