// One list of op test cases, used twice: finite-difference gradient checks on the reference backend in
// float64, and the comparison of every other backend against the reference in float32.
// Each case builds its inputs from a seeded generator (sizes include 1 and odd numbers) and maps them to
// one output tensor.

import type { Backend, DType } from "../../src/backend/backend.js";
import type { Tensor } from "../../src/tensor/index.js";
import * as T from "../../src/tensor/index.js";

export interface CaseInputs {
  /** Float inputs that are differentiated. */
  params: Tensor[];
  /** Anything else the op needs (ids, masks, targets): not differentiated. */
  fixed: Tensor[];
}

export interface OpCase {
  name: string;
  make(rng: T.Rng, dtype: DType, backend: Backend): CaseInputs;
  run(params: Tensor[], fixed: Tensor[]): Tensor;
}

function pick<V>(rng: T.Rng, values: readonly V[]): V {
  return values[rng.int(values.length)];
}

/** A random float tensor in [lo, hi). */
export function uniform(
  rng: T.Rng,
  shape: number[],
  dtype: DType,
  backend: Backend,
  lo = -1,
  hi = 1,
): Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  const values = Array.from({ length: n }, () => lo + (hi - lo) * rng.next());
  return T.tensor(values, shape, dtype, backend);
}

function ints(values: number[], shape: number[], backend: Backend): Tensor {
  return T.tensor(values, shape, "int32", backend);
}

const dims = [1, 2, 3, 5, 7] as const;

function unaryCase(name: string, fn: (x: Tensor) => Tensor, lo = -2, hi = 2): OpCase {
  return {
    name,
    make: (rng, dtype, backend) => ({
      params: [uniform(rng, [pick(rng, dims), pick(rng, [3, 5, 8, 17])], dtype, backend, lo, hi)],
      fixed: [],
    }),
    run: ([x]) => fn(x),
  };
}

function binaryCase(name: string, fn: (a: Tensor, b: Tensor) => Tensor, bLo = -2, bHi = 2): OpCase {
  return {
    name,
    make: (rng, dtype, backend) => {
      const a = pick(rng, dims);
      const c = pick(rng, [3, 5]);
      // Broadcast in both directions: [a, 1, c] op [4, 1].
      return {
        params: [uniform(rng, [a, 1, c], dtype, backend), uniform(rng, [4, 1], dtype, backend, bLo, bHi)],
        fixed: [],
      };
    },
    run: ([a, b]) => fn(a, b),
  };
}

export const opCases: OpCase[] = [
  binaryCase("add", T.add),
  binaryCase("sub", T.sub),
  binaryCase("mul", T.mul),
  binaryCase("div", T.div, 0.5, 2),
  {
    name: "pow",
    make: (rng, dtype, backend) => ({
      params: [
        uniform(rng, [3, 1, 5], dtype, backend, 0.5, 2),
        uniform(rng, [2, 1], dtype, backend, -1.5, 1.5),
      ],
      fixed: [],
    }),
    run: ([a, b]) => T.pow(a, b),
  },
  binaryCase("maximum", T.maximum),
  binaryCase("minimum", T.minimum),
  {
    name: "add same shape",
    make: (rng, dtype, backend) => ({
      params: [uniform(rng, [3, 4], dtype, backend), uniform(rng, [3, 4], dtype, backend)],
      fixed: [],
    }),
    run: ([a, b]) => T.add(a, b),
  },
  unaryCase("neg", T.neg),
  unaryCase("exp", T.exp),
  unaryCase("log", T.log, 0.2, 3),
  unaryCase("sqrt", T.sqrt, 0.2, 3),
  unaryCase("rsqrt", T.rsqrt, 0.2, 3),
  unaryCase("tanh", T.tanh),
  unaryCase("sigmoid", T.sigmoid),
  unaryCase("relu", T.relu),
  unaryCase("gelu", T.gelu, -4, 4),
  unaryCase("geluTanh", T.geluTanh, -4, 4),
  unaryCase("silu", T.silu, -4, 4),
  unaryCase("abs", T.abs),
  unaryCase("square", T.square),
  unaryCase("mulScalar", (x) => T.mulScalar(x, -1.7)),
  unaryCase("addScalar", (x) => T.addScalar(x, 0.3)),
  unaryCase("powScalar", (x) => T.powScalar(x, 1.5), 0.2, 2),
  unaryCase("rdivScalar", (x) => T.rdivScalar(x, 2), 0.5, 2),
  ...[
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ].map(
    ([transA, transB]): OpCase => ({
      name: `matmul transA=${transA} transB=${transB}`,
      make: (rng, dtype, backend) => {
        const [m, k, n] = [pick(rng, dims), pick(rng, dims), pick(rng, dims)];
        return {
          params: [
            uniform(rng, transA ? [2, k, m] : [2, m, k], dtype, backend),
            uniform(rng, transB ? [2, n, k] : [2, k, n], dtype, backend),
          ],
          fixed: [],
        };
      },
      run: ([a, b]) => T.matmul(a, b, { transA, transB }),
    }),
  ),
  {
    name: "matmul broadcast batch",
    make: (rng, dtype, backend) => ({
      params: [uniform(rng, [2, 1, 3, 5], dtype, backend), uniform(rng, [3, 5, 4], dtype, backend)],
      fixed: [],
    }),
    run: ([a, b]) => T.matmul(a, b),
  },
  {
    name: "matmul shared weight",
    make: (rng, dtype, backend) => ({
      params: [uniform(rng, [2, 3, 5], dtype, backend), uniform(rng, [5, 7], dtype, backend)],
      fixed: [],
    }),
    run: ([a, b]) => T.matmul(a, b),
  },
  {
    name: "linear outIn with bias",
    make: (rng, dtype, backend) => ({
      params: [
        uniform(rng, [2, pick(rng, dims), 5], dtype, backend),
        uniform(rng, [3, 5], dtype, backend),
        uniform(rng, [3], dtype, backend),
      ],
      fixed: [],
    }),
    run: ([x, w, b]) => T.linear(x, w, b),
  },
  {
    name: "linear inOut (Conv1D) no bias",
    make: (rng, dtype, backend) => ({
      params: [uniform(rng, [pick(rng, dims), 5], dtype, backend), uniform(rng, [5, 7], dtype, backend)],
      fixed: [],
    }),
    run: ([x, w]) => T.linear(x, w, null, "inOut"),
  },
  {
    name: "sum axes 0,2",
    make: (rng, dtype, backend) => ({ params: [uniform(rng, [3, 4, 5], dtype, backend)], fixed: [] }),
    run: ([x]) => T.sum(x, [0, 2]),
  },
  {
    name: "sum all",
    make: (rng, dtype, backend) => ({ params: [uniform(rng, [3, 4], dtype, backend)], fixed: [] }),
    run: ([x]) => T.sum(x),
  },
  {
    name: "mean axis -1 keepDims",
    make: (rng, dtype, backend) => ({
      params: [uniform(rng, [3, pick(rng, dims)], dtype, backend)],
      fixed: [],
    }),
    run: ([x]) => T.mean(x, -1, true),
  },
  {
    name: "max axis 1",
    make: (rng, dtype, backend) => ({ params: [uniform(rng, [3, 6, 2], dtype, backend)], fixed: [] }),
    run: ([x]) => T.max(x, 1),
  },
  {
    name: "softmax last axis",
    make: (rng, dtype, backend) => ({
      params: [uniform(rng, [3, pick(rng, [1, 5, 17])], dtype, backend, -3, 3)],
      fixed: [],
    }),
    run: ([x]) => T.softmax(x),
  },
  {
    name: "softmax axis 0",
    make: (rng, dtype, backend) => ({ params: [uniform(rng, [4, 3], dtype, backend, -3, 3)], fixed: [] }),
    run: ([x]) => T.softmax(x, 0),
  },
  {
    name: "logSoftmax",
    make: (rng, dtype, backend) => ({ params: [uniform(rng, [3, 7], dtype, backend, -3, 3)], fixed: [] }),
    run: ([x]) => T.logSoftmax(x),
  },
  {
    name: "layerNorm",
    make: (rng, dtype, backend) => ({
      params: [
        uniform(rng, [2, 3, 9], dtype, backend),
        uniform(rng, [9], dtype, backend),
        uniform(rng, [9], dtype, backend),
      ],
      fixed: [],
    }),
    run: ([x, w, b]) => T.layerNorm(x, w, b, 1e-5),
  },
  {
    name: "layerNorm without affine",
    make: (rng, dtype, backend) => ({ params: [uniform(rng, [4, 6], dtype, backend)], fixed: [] }),
    run: ([x]) => T.layerNorm(x, null, null, 1e-12),
  },
  {
    name: "rmsNorm",
    make: (rng, dtype, backend) => ({
      params: [uniform(rng, [2, 3, 8], dtype, backend), uniform(rng, [8], dtype, backend)],
      fixed: [],
    }),
    run: ([x, w]) => T.rmsNorm(x, w, 1e-6),
  },
  {
    name: "embedding",
    make: (rng, dtype, backend) => ({
      params: [uniform(rng, [6, 4], dtype, backend)],
      fixed: [ints([0, 3, 3, 5, 1, 0], [2, 3], backend)],
    }),
    run: ([table], [ids]) => T.embedding(table, ids),
  },
  {
    name: "reshape",
    make: (rng, dtype, backend) => ({ params: [uniform(rng, [2, 6], dtype, backend)], fixed: [] }),
    run: ([x]) => T.mul(T.reshape(x, [3, -1]), T.reshape(x, [3, 4])),
  },
  {
    name: "permute",
    make: (rng, dtype, backend) => ({ params: [uniform(rng, [2, 3, 4], dtype, backend)], fixed: [] }),
    run: ([x]) => T.permute(x, [2, 0, 1]),
  },
  {
    // only size-1 axes move: the element order stays (a view), then a real permute of the result
    name: "permute moving size-1 axes",
    make: (rng, dtype, backend) => ({ params: [uniform(rng, [2, 1, 3, 1], dtype, backend)], fixed: [] }),
    run: ([x]) => {
      const y = T.permute(T.permute(x, [1, 0, 3, 2]), [0, 3, 2, 1]);
      return T.mul(y, y);
    },
  },
  {
    name: "transpose",
    make: (rng, dtype, backend) => ({
      params: [uniform(rng, [pick(rng, dims), 3], dtype, backend)],
      fixed: [],
    }),
    run: ([x]) => T.transpose(x, 0, 1),
  },
  {
    name: "slice",
    make: (rng, dtype, backend) => ({ params: [uniform(rng, [3, 7, 2], dtype, backend)], fixed: [] }),
    run: ([x]) => T.slice(x, 1, 2, -1),
  },
  {
    name: "concat",
    make: (rng, dtype, backend) => ({
      params: [uniform(rng, [2, 1, 3], dtype, backend), uniform(rng, [2, 4, 3], dtype, backend)],
      fixed: [],
    }),
    run: ([a, b]) => T.concat([a, b], 1),
  },
  {
    name: "stack",
    make: (rng, dtype, backend) => ({
      params: [uniform(rng, [2, 3], dtype, backend), uniform(rng, [2, 3], dtype, backend)],
      fixed: [],
    }),
    run: ([a, b]) => T.stack([a, b], 1),
  },
  {
    name: "expand",
    make: (rng, dtype, backend) => ({ params: [uniform(rng, [3, 1], dtype, backend)], fixed: [] }),
    run: ([x]) => T.expand(x, [2, 3, 4]),
  },
  {
    name: "where with int mask",
    make: (rng, dtype, backend) => ({
      params: [uniform(rng, [2, 3], dtype, backend), uniform(rng, [3], dtype, backend)],
      fixed: [ints([1, 0, 1, 0, 0, 1], [2, 3], backend)],
    }),
    run: ([a, b], [mask]) => T.where(mask, a, b),
  },
  {
    name: "maskedFill",
    make: (rng, dtype, backend) => ({
      params: [uniform(rng, [2, 4], dtype, backend)],
      fixed: [ints([0, 1, 0, 0], [1, 4], backend)],
    }),
    run: ([x], [mask]) => T.maskedFill(x, mask, -5),
  },
  {
    name: "dropout seeded",
    make: (rng, dtype, backend) => ({ params: [uniform(rng, [4, 9], dtype, backend)], fixed: [] }),
    run: ([x]) => T.dropout(x, 0.3, new T.Rng(7), true),
  },
  {
    name: "crossEntropy with ignore index",
    make: (rng, dtype, backend) => ({
      params: [uniform(rng, [5, 7], dtype, backend, -3, 3)],
      fixed: [ints([3, -100, 0, 6, 2], [5], backend)],
    }),
    run: ([logits], [targets]) => T.crossEntropy(logits, targets),
  },
  {
    name: "rope",
    make: (rng, dtype, backend) => ({
      params: [uniform(rng, [2, 3, 4, 8], dtype, backend)],
      fixed: [ints([0, 1, 2, 3, 5, 6, 7, 8], [2, 4], backend)],
    }),
    run: ([x], [positions]) => T.rope(x, positions, T.ropeInverseFrequencies(8, 10000)),
  },
  ...[
    { label: "plain", heads: 2, kvHeads: 2, tq: 3, tk: 3, causal: false, mask: false },
    { label: "causal", heads: 2, kvHeads: 2, tq: 5, tk: 5, causal: true, mask: false },
    { label: "causal GQA with padding", heads: 4, kvHeads: 2, tq: 4, tk: 4, causal: true, mask: true },
    { label: "KV-cache offset", heads: 2, kvHeads: 1, tq: 1, tk: 6, causal: true, mask: false },
    { label: "padding, tq=1 head dim odd", heads: 3, kvHeads: 3, tq: 1, tk: 1, causal: false, mask: true },
    { label: "sliding window 3", heads: 2, kvHeads: 1, tq: 7, tk: 7, causal: true, mask: false, window: 3 },
    {
      label: "sliding window 2 after a cache",
      heads: 2,
      kvHeads: 2,
      tq: 2,
      tk: 6,
      causal: true,
      mask: true,
      window: 2,
    },
    // token rows [batch, seq, heads, headDim] (a projection reshaped, no head permutes)
    { label: "token rows", heads: 2, kvHeads: 2, tq: 3, tk: 3, causal: false, mask: false, tokens: true },
    {
      label: "token rows, causal GQA with padding",
      heads: 4,
      kvHeads: 2,
      tq: 4,
      tk: 4,
      causal: true,
      mask: true,
      tokens: true,
    },
    {
      label: "token rows, window 2, tq < tk, head dim odd",
      heads: 3,
      kvHeads: 1,
      tq: 2,
      tk: 5,
      causal: true,
      mask: false,
      window: 2,
      tokens: true,
    },
  ].map(
    (c): OpCase => ({
      name: `attention ${c.label}`,
      make: (rng, dtype, backend) => {
        const d = c.label.includes("odd") ? 5 : 4;
        const fixed: Tensor[] = [];
        if (c.mask) {
          const m = Array.from({ length: 2 * c.tk }, (_, i) => (i % c.tk < c.tk - 1 || i < c.tk ? 1 : 0));
          fixed.push(T.paddingBias(ints(m, [2, c.tk], backend), dtype === "float64" ? "float64" : "float32"));
        }
        const tokens = "tokens" in c && c.tokens;
        const shape = (heads: number, t: number) => (tokens ? [2, t, heads, d] : [2, heads, t, d]);
        return {
          params: [
            uniform(rng, shape(c.heads, c.tq), dtype, backend),
            uniform(rng, shape(c.kvHeads, c.tk), dtype, backend),
            uniform(rng, shape(c.kvHeads, c.tk), dtype, backend),
          ],
          fixed,
        };
      },
      run: ([q, k, v], [bias]) =>
        T.attention(q, k, v, {
          causal: c.causal,
          keyBias: bias ?? null,
          window: "window" in c ? c.window : 0,
          layout: "tokens" in c && c.tokens ? "tokens" : "heads",
        }),
    }),
  ),
  {
    name: "attention with prefix keys",
    make: (rng, dtype, backend) => ({
      params: [
        uniform(rng, [1, 2, 3, 4], dtype, backend),
        uniform(rng, [1, 2, 3, 4], dtype, backend),
        uniform(rng, [1, 2, 3, 4], dtype, backend),
        uniform(rng, [1, 2, 2, 4], dtype, backend),
        uniform(rng, [1, 2, 2, 4], dtype, backend),
      ],
      fixed: [],
    }),
    run: ([q, k, v, pk, pv]) => T.attention(q, T.withPrefix(pk, k), T.withPrefix(pv, v), { causal: true }),
  },
  // Gradients that are zero outside a few rows (src/tensor/ops/sparse-rows.ts): a slice of one position of
  // 8 (or 16 rows of 64) leaves the backward passes below it a quarter or less of their rows to compute.
  {
    name: "live rows: linear with bias, then a slice of one position",
    make: (rng, dtype, backend) => ({
      params: [
        uniform(rng, [2, 8, 5], dtype, backend),
        uniform(rng, [3, 5], dtype, backend),
        uniform(rng, [3], dtype, backend),
      ],
      fixed: [],
    }),
    run: ([x, w, b]) => T.slice(T.linear(x, w, b), 1, 2, 3),
  },
  {
    name: "live rows: Conv1D linear into a residual (its dx adds into the pending gradient)",
    make: (rng, dtype, backend) => ({
      params: [uniform(rng, [3, 8, 5], dtype, backend), uniform(rng, [5, 5], dtype, backend)],
      fixed: [],
    }),
    run: ([x, w]) => T.slice(T.add(x, T.linear(x, w, null, "inOut")), 1, 7, 8),
  },
  {
    name: "live rows: a head under a loss that ignores most targets (prompt tokens of instruction tuning)",
    make: (rng, dtype, backend) => ({
      params: [
        uniform(rng, [2, 8, 5], dtype, backend),
        uniform(rng, [6, 5], dtype, backend),
        uniform(rng, [6], dtype, backend),
      ],
      fixed: [
        ints(
          Array.from({ length: 16 }, (_, i) => (i === 6 || i === 15 ? i % 6 : -100)),
          [16],
          backend,
        ),
      ],
    }),
    run: ([x, w, b], [targets]) => T.crossEntropy(T.reshape(T.linear(T.gelu(x), w, b), [16, 6]), targets),
  },
  {
    name: "an all-zero gradient below linear and gelu (the dense path)",
    make: (rng, dtype, backend) => ({
      params: [
        uniform(rng, [2, 8, 5], dtype, backend),
        uniform(rng, [3, 5], dtype, backend),
        uniform(rng, [3], dtype, backend),
      ],
      fixed: [T.zeros([2, 8, 3], dtype, backend)],
    }),
    run: ([x, w, b], [zero]) => T.mul(T.gelu(T.linear(x, w, b)), zero),
  },
  {
    name: "live rows: layerNorm, rmsNorm, gelu and silu",
    make: (rng, dtype, backend) => ({
      params: [
        uniform(rng, [2, 8, 6], dtype, backend),
        uniform(rng, [6], dtype, backend),
        uniform(rng, [6], dtype, backend),
        uniform(rng, [6], dtype, backend),
      ],
      fixed: [],
    }),
    run: ([x, w, b, g]) => T.slice(T.silu(T.rmsNorm(T.gelu(T.layerNorm(x, w, b, 1e-5)), g, 1e-6)), 1, 0, 1),
  },
  ...(
    [
      { label: "tokens layout", tokens: true, heads: 2, kvHeads: 2, causal: false, at: 0 },
      {
        label: "heads layout, grouped, causal, last position",
        tokens: false,
        heads: 4,
        kvHeads: 2,
        causal: true,
        at: 7,
      },
    ] as const
  ).map(
    (c): OpCase => ({
      name: `live rows: attention (${c.label}) with the gradient on one query position`,
      make: (rng, dtype, backend) => {
        const shape = (heads: number) => (c.tokens ? [2, 8, heads, 4] : [2, heads, 8, 4]);
        return {
          params: [
            uniform(rng, shape(c.heads), dtype, backend),
            uniform(rng, shape(c.kvHeads), dtype, backend),
            uniform(rng, shape(c.kvHeads), dtype, backend),
          ],
          fixed: [],
        };
      },
      run: ([q, k, v]) =>
        T.slice(
          T.attention(q, k, v, { causal: c.causal, layout: c.tokens ? "tokens" : "heads" }),
          c.tokens ? 1 : 2,
          c.at,
          c.at + 1,
        ),
    }),
  ),
  {
    name: "live rows: a post-norm encoder layer read at its first position (marks passed from op to op)",
    make: (rng, dtype, backend) => ({
      params: [
        uniform(rng, [2, 8, 8], dtype, backend),
        uniform(rng, [24, 8], dtype, backend, -0.5, 0.5),
        uniform(rng, [8, 8], dtype, backend, -0.5, 0.5),
        uniform(rng, [16, 8], dtype, backend, -0.5, 0.5),
        uniform(rng, [8, 16], dtype, backend, -0.5, 0.5),
        uniform(rng, [8], dtype, backend),
      ],
      fixed: [],
    }),
    run: ([x, wqkv, wo, wup, wdown, gain]) => {
      const qkv = T.linear(x, wqkv);
      const part = (i: number) => T.reshape(T.slice(qkv, 2, 8 * i, 8 * i + 8), [2, 8, 2, 4]);
      const context = T.reshape(T.attention(part(0), part(1), part(2), { layout: "tokens" }), [2, 8, 8]);
      const a = T.layerNorm(T.add(T.linear(context, wo), x), gain, null, 1e-12);
      const out = T.layerNorm(T.add(T.linear(T.gelu(T.linear(a, wup)), wdown), a), gain, null, 1e-12);
      return T.slice(out, 1, 0, 1);
    },
  },
];
