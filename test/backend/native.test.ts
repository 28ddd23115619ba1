// The native backend against the reference backend (the oracle, run in float64 on the same float32
// inputs), kernel by kernel, on random inputs with odd sizes, size 1, broadcasting strides, special values
// and sizes large enough to run on the thread pool. GEMM runs on every instruction set this CPU supports
// and on 1, 2 and 3 threads. A missing addon fails these tests: CI has a compiler.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import type { AttentionLayout, BinaryOp, UnaryOp } from "../../src/backend/backend.js";
import { loadNativeBackend, type NativeBackend, type NativeIsa } from "../../src/backend/native.js";
import { referenceBackend as ref } from "../../src/backend/reference.js";

const loaded = loadNativeBackend();
if (loaded === null) {
  throw new Error(
    "native addon not built (build/Release/adaptlm_native.node missing or not loadable): run `node scripts/build-native.mjs` with ADAPTLM_NATIVE_VERBOSE=1",
  );
}
const native: NativeBackend = loaded;
const defaultThreads = native.threads;

/** mulberry32: a small seeded generator, so that failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomF32(n: number, random: () => number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * random();
  return out;
}

const f64 = (x: ArrayLike<number>): Float64Array => Float64Array.from(x);

/** Asserts |actual - expected| <= atol + rtol |expected| everywhere; NaN must meet NaN, infinities match. */
function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  atol: number,
  rtol: number,
  label: string,
): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  let worst = 0;
  let worstIndex = -1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e) || Number.isNaN(a)) {
      assert.ok(Number.isNaN(e) && Number.isNaN(a), `${label}[${i}]: got ${a}, expected ${e}`);
      continue;
    }
    if (!Number.isFinite(e) || !Number.isFinite(a)) {
      assert.equal(a, e, `${label}[${i}]: got ${a}, expected ${e}`);
      continue;
    }
    const excess = Math.abs(a - e) / (atol + rtol * Math.abs(e));
    if (excess > worst) {
      worst = excess;
      worstIndex = i;
    }
  }
  assert.ok(
    worst <= 1,
    `${label}: error ${worst.toFixed(2)}x tolerance at [${worstIndex}]: got ${actual[worstIndex]}, expected ${expected[worstIndex]}`,
  );
}

/** Runs fn with the native pool at n threads, restoring the default afterwards. */
function withThreads(n: number, fn: () => void): void {
  native.setThreads(n);
  try {
    fn();
  } finally {
    native.setThreads(defaultThreads);
  }
}

function supportedIsas(): NativeIsa[] {
  const order: NativeIsa[] = ["scalar", "avx2", "avx512"];
  return order.slice(0, order.indexOf(native.bestIsa) + 1);
}

// ---------------------------------------------------------------- GEMM

interface GemmCase {
  batch: number;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  alpha: number;
  beta: number;
  broadcastA?: boolean;
  broadcastB?: boolean;
  offsets?: boolean;
  /** a Linear bias: n values added to every row of every C (beta 0) */
  bias?: boolean;
}

function runGemmCase(c: GemmCase, seed: number, label: string): void {
  const random = rng(seed);
  const off = c.offsets ? 3 : 0;
  const strideA = c.broadcastA ? 0 : c.m * c.k + (c.offsets ? 5 : 0);
  const strideB = c.broadcastB ? 0 : c.k * c.n + (c.offsets ? 2 : 0);
  const strideC = c.m * c.n + (c.offsets ? 1 : 0);
  const a = randomF32(off + (c.batch - 1) * strideA + c.m * c.k, random);
  const b = randomF32(off + (c.batch - 1) * strideB + c.k * c.n, random);
  const cInit = randomF32(off + (c.batch - 1) * strideC + c.m * c.n, random);
  // beta 0 must ignore what C holds, NaN included
  if (c.beta === 0) cInit.fill(Number.NaN);
  const args = {
    batch: c.batch,
    m: c.m,
    n: c.n,
    k: c.k,
    aOffset: off,
    strideA,
    transA: c.transA,
    bOffset: off,
    strideB,
    transB: c.transB,
    cOffset: off,
    strideC,
    alpha: c.alpha,
    beta: c.beta,
  };
  const expected = f64(cInit);
  ref.gemm({ ...args, a: f64(a), b: f64(b), c: expected });
  if (c.beta === 0) for (let i = 0; i < off; i++) expected[i] = Number.NaN;
  const bias = c.bias ? randomF32(c.n, random) : null;
  if (bias) {
    for (let bi = 0; bi < c.batch; bi++)
      for (let i = 0; i < c.m; i++)
        for (let j = 0; j < c.n; j++) expected[off + bi * strideC + i * c.n + j] += bias[j];
  }
  const actual = Float32Array.from(cInit);
  native.gemm({ ...args, a, b, c: actual, bias });
  // Inputs in [-1, 1]: the float32 rounding error of a k-term dot product stays below ~k * 2^-24 * |alpha|.
  const atol = 4e-7 * (c.k + 2) * Math.max(1, Math.abs(c.alpha)) + 1e-6 * Math.abs(c.beta);
  assertClose(actual, expected, atol, 1e-5, label);
}

test("gemm: every size in {1,2,7,17,64,129}^3 and transpose combination, each ISA, 1-3 threads", () => {
  const sizes = [1, 2, 7, 17, 64, 129];
  for (const isa of supportedIsas()) {
    assert.equal(native.setIsa(isa), isa);
    for (const threads of [1, 2, 3]) {
      withThreads(threads, () => {
        let seed = 1;
        for (const m of sizes)
          for (const n of sizes)
            for (const k of sizes)
              for (const transA of [false, true])
                for (const transB of [false, true]) {
                  // every size combination on 1 thread; on more threads the ones big enough to be split
                  if (threads > 1 && m * n * k < 64 * 64 * 17) continue;
                  runGemmCase(
                    { batch: 1, m, n, k, transA, transB, alpha: 1, beta: 0 },
                    seed++,
                    `${isa} t${threads} m${m} n${n} k${k} tA${+transA} tB${+transB}`,
                  );
                }
      });
    }
  }
  native.setIsa(native.bestIsa);
});

test("gemm: batches with strides, broadcast (stride 0), offsets, alpha and beta", () => {
  const cases: GemmCase[] = [
    { batch: 3, m: 7, n: 17, k: 64, transA: false, transB: true, alpha: 0.5, beta: 0.25, offsets: true },
    { batch: 5, m: 33, n: 40, k: 19, transA: true, transB: false, alpha: -1.5, beta: 1, broadcastA: true },
    { batch: 4, m: 64, n: 129, k: 70, transA: false, transB: false, alpha: 1, beta: 0, broadcastB: true },
    { batch: 3, m: 129, n: 64, k: 300, transA: true, transB: true, alpha: 2, beta: -1, offsets: true },
    { batch: 1, m: 300, n: 530, k: 400, transA: false, transB: false, alpha: 1, beta: 0 },
    { batch: 2, m: 17, n: 7, k: 0, transA: false, transB: false, alpha: 1, beta: 0.5 },
    { batch: 2, m: 17, n: 7, k: 0, transA: false, transB: false, alpha: 1, beta: 0 },
    { batch: 6, m: 1, n: 129, k: 64, transA: false, transB: true, alpha: 1, beta: 1 },
    // a decode step's x W^T (few rows, a [n, k] weight read in place): full 4 x 6 blocks, edge rows and
    // columns, a k tail
    { batch: 2, m: 22, n: 4099, k: 131, transA: false, transB: true, alpha: 0.75, beta: 0.5, offsets: true },
    { batch: 1, m: 129, n: 1, k: 64, transA: true, transB: false, alpha: 1, beta: 0 },
    // Linear biases: threads split over columns (each starts from its own part of the bias) or rows
    { batch: 1, m: 300, n: 530, k: 400, transA: false, transB: true, alpha: 1, beta: 0, bias: true },
    { batch: 1, m: 1024, n: 64, k: 64, transA: false, transB: true, alpha: 1, beta: 0, bias: true },
    {
      batch: 3,
      m: 7,
      n: 17,
      k: 9,
      transA: false,
      transB: false,
      alpha: 0.5,
      beta: 0,
      offsets: true,
      bias: true,
    },
    { batch: 2, m: 5, n: 33, k: 0, transA: false, transB: true, alpha: 1, beta: 0, bias: true },
    // long sums into small outputs (weight gradients): threads split K and add their partial products; an
    // uneven split with alpha and beta, and a bias added once
    { batch: 1, m: 64, n: 64, k: 1024, transA: true, transB: false, alpha: 1, beta: 0 },
    { batch: 1, m: 7, n: 33, k: 523, transA: true, transB: true, alpha: 0.5, beta: 0.75 },
    { batch: 1, m: 17, n: 40, k: 300, transA: false, transB: false, alpha: 1, beta: 0, bias: true },
  ];
  for (const isa of supportedIsas()) {
    native.setIsa(isa);
    for (const threads of [1, 2, 3]) {
      withThreads(threads, () => {
        for (const [i, c] of cases.entries()) {
          runGemmCase(c, 100 + i, `${isa} t${threads} case ${i} ${JSON.stringify(c)}`);
        }
      });
    }
  }
  native.setIsa(native.bestIsa);
});

test("gemm: rejects float64 and arrays too short for the sizes", () => {
  const base = {
    batch: 1,
    m: 2,
    n: 2,
    k: 2,
    aOffset: 0,
    strideA: 0,
    transA: false,
    bOffset: 0,
    strideB: 0,
    transB: false,
    cOffset: 0,
    strideC: 0,
    alpha: 1,
    beta: 0,
  };
  assert.throws(
    () => native.gemm({ ...base, a: new Float32Array(4), b: new Float32Array(4), c: new Float32Array(3) }),
    RangeError,
  );
  assert.throws(
    () => native.gemm({ ...base, a: new Float64Array(4), b: new Float32Array(4), c: new Float32Array(4) }),
    TypeError,
  );
  const operands = { a: new Float32Array(4), b: new Float32Array(4), c: new Float32Array(4) };
  assert.throws(() => native.gemm({ ...base, ...operands, bias: new Float32Array(1) }), /gemm bias/);
  assert.throws(() => native.gemm({ ...base, ...operands, beta: 1, bias: new Float32Array(2) }), /beta 0/);
});

// ---------------------------------------------------------------- prepacked weights

test("gemmPacked: a packed [n, k] or [k, n] weight times [m, k] rows equals the float64 product, each ISA, 1-3 threads", () => {
  // m across the micro-tile heights (6 AVX2, 14 AVX-512, 4 scalar) and above one row block (MC 144-168);
  // n off the panel widths; k above one k block (KC 256-320) and odd
  const shapes = [
    { m: 1, n: 7, k: 5 },
    { m: 2, n: 33, k: 64 },
    { m: 20, n: 4099, k: 128 },
    { m: 13, n: 129, k: 700 },
    { m: 300, n: 50, k: 77 },
    { m: 6, n: 16, k: 1 },
  ];
  let seed = 500;
  const cases = shapes.flatMap(({ m, n, k }) =>
    [true, false].flatMap((transposed) =>
      [0, 1, -0.5].map((beta) => {
        const random = rng(seed++);
        const w = randomF32(n * k, random);
        const a = randomF32(2 + m * k, random);
        const cInit = randomF32(3 + m * n, random);
        if (beta === 0) cInit.fill(Number.NaN, 3);
        const expected = f64(cInit);
        ref.gemm({
          batch: 1,
          m,
          n,
          k,
          a: f64(a),
          aOffset: 2,
          strideA: 0,
          transA: false,
          b: f64(w),
          bOffset: 0,
          strideB: 0,
          transB: transposed,
          c: expected,
          cOffset: 3,
          strideC: 0,
          alpha: 1,
          beta,
        });
        return { m, n, k, transposed, beta, w, a, cInit, expected };
      }),
    ),
  );
  for (const isa of supportedIsas()) {
    native.setIsa(isa);
    for (const threads of [1, 2, 3]) {
      withThreads(threads, () => {
        for (const { m, n, k, transposed, beta, w, a, cInit, expected } of cases) {
          const packed = native.packWeight(w, n, k, transposed);
          const actual = Float32Array.from(cInit);
          native.gemmPacked(m, a, 2, packed, actual, 3, beta);
          const label = `${isa} t${threads} m${m} n${n} k${k} transposed ${transposed} beta ${beta}`;
          assertClose(actual.subarray(3), expected.subarray(3), 4e-7 * (k + 2) + 1e-6, 1e-5, label);
          // the 3 floats in front of C are never written
          assert.deepEqual(Array.from(actual.subarray(0, 3)), Array.from(cInit.subarray(0, 3)), label);
        }
      });
    }
  }
  native.setIsa(native.bestIsa);
});

test("gemmPacked: a weight packed under another instruction set, or arrays too short, are refused", () => {
  const w = new Float32Array(64 * 32).fill(0.5);
  const a = new Float32Array(4 * 32).fill(1);
  const c = new Float32Array(4 * 64);
  if (supportedIsas().length > 1) {
    native.setIsa("scalar");
    const scalarPacked = native.packWeight(w, 64, 32, true);
    native.setIsa(native.bestIsa);
    assert.throws(
      () => native.gemmPacked(4, a, 0, scalarPacked, c, 0, 0),
      /packed for another instruction set/,
    );
  }
  const packed = native.packWeight(w, 64, 32, true);
  assert.throws(
    () => native.gemmPacked(5, a, 0, packed, c, 0, 0),
    /gemmPacked A has 128 elements, the call needs 160/,
  );
  assert.throws(() => native.gemmPacked(4, a, 0, packed, c, 1, 0), /gemmPacked C has 256 elements/);
  native.gemmPacked(4, a, 0, packed, c, 0, 0);
  assert.deepEqual(Array.from(new Set(c)), [16]);
});

// ---------------------------------------------------------------- element-wise

const UNARY_OPS: UnaryOp[] = [
  "neg",
  "exp",
  "log",
  "sqrt",
  "rsqrt",
  "tanh",
  "sigmoid",
  "relu",
  "gelu",
  "geluTanh",
  "silu",
  "abs",
  "square",
  "scale",
  "shift",
  "pow",
  "rdiv",
];
const POSITIVE_ONLY = new Set<UnaryOp>(["log", "sqrt", "rsqrt", "pow"]);

function unaryInput(op: UnaryOp, n: number, seed: number): Float32Array {
  const random = rng(seed);
  if (POSITIVE_ONLY.has(op)) return randomF32(n, random, 0.01, 8);
  if (op === "rdiv") return Float32Array.from(randomF32(n, random, 0.1, 4), (v, i) => (i % 2 ? v : -v));
  if (op === "exp") return randomF32(n, random, -80, 80);
  return randomF32(n, random, -9, 9);
}

test("unary forward and backward: every op, sizes 1..100000 (threaded above 2^13)", () => {
  for (const op of UNARY_OPS) {
    for (const n of [1, 7, 129, 20000, 100003]) {
      const alpha = op === "pow" ? 1.7 : op === "rdiv" ? -2.5 : 0.75;
      const x = unaryInput(op, n, n + op.length);
      const expected = new Float64Array(n);
      ref.unary(op, f64(x), expected, n, alpha);
      const y = new Float32Array(n);
      native.unary(op, x, y, n, alpha);
      assertClose(y, expected, 1e-6, 1e-5, `${op} n=${n}`);

      const dy = randomF32(n, rng(n * 7));
      const expectedDx = new Float64Array(n);
      ref.unaryBackward(op, f64(x), f64(y), f64(dy), expectedDx, n, alpha);
      const dx = new Float32Array(n);
      native.unaryBackward(op, x, y, dy, dx, n, alpha);
      assertClose(dx, expectedDx, 1e-6, 2e-5, `${op} backward n=${n}`);
    }
  }
});

test("typed-array views (subarray with a byte offset) are read and written where they start", () => {
  const base = Float32Array.from({ length: 40 }, (_, i) => i - 20);
  const x = base.subarray(5, 25);
  const outBase = new Float32Array(40).fill(-1);
  const out = outBase.subarray(10, 30);
  native.unary("square", x, out, 20, 0);
  for (let i = 0; i < 20; i++) assert.equal(out[i], x[i] * x[i]);
  assert.equal(outBase[9], -1);
  assert.equal(outBase[30], -1);
  const c = new Float32Array(9);
  native.gemm({
    batch: 1,
    m: 1,
    n: 1,
    k: 3,
    a: base.subarray(21),
    aOffset: 0,
    strideA: 0,
    transA: false,
    b: base.subarray(22),
    bOffset: 0,
    strideB: 0,
    transB: false,
    c: c.subarray(4),
    cOffset: 1,
    strideC: 0,
    alpha: 1,
    beta: 0,
  });
  assert.equal(c[5], 1 * 2 + 2 * 3 + 3 * 4);
});

test("unary: infinities, NaN, zeros and far tails follow the reference", () => {
  const special = Float32Array.from([
    Number.NEGATIVE_INFINITY,
    Number.POSITIVE_INFINITY,
    Number.NaN,
    0,
    -0,
    -100,
    100,
    -88,
    89,
    -20,
    20,
    1e-7,
    -1e-7,
    -6,
  ]);
  for (const op of [
    "neg",
    "exp",
    "tanh",
    "sigmoid",
    "relu",
    "gelu",
    "geluTanh",
    "silu",
    "abs",
    "square",
  ] as const) {
    const expected = new Float64Array(special.length);
    ref.unary(op, f64(special), expected, special.length, 0);
    const actual = new Float32Array(special.length);
    native.unary(op, special, actual, special.length, 0);
    // float32 rounds what float64 keeps: compare against the reference rounded to float32
    assertClose(actual, Float32Array.from(expected), 1e-30, 1e-5, `${op} special values`);
  }
  const powCases = Float32Array.from([1, -1, 2, 0]);
  const out = new Float32Array(4);
  native.unary("pow", powCases, out, 4, Number.NaN);
  assert.ok(
    out.every((v) => Number.isNaN(v)),
    "x ** NaN is NaN, 1 ** NaN included",
  );
});

/** Row-major strides of shape, with 0 on broadcast axes (size 1 in `own`). */
function broadcastStrides(own: number[], shape: number[]): number[] {
  const strides = new Array<number>(shape.length).fill(0);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = own[d] === 1 && shape[d] !== 1 ? 0 : s;
    s *= own[d];
  }
  return strides;
}

const size = (shape: number[]): number => shape.reduce((p, d) => p * d, 1);

test("binary: every op with contiguous, last-dim, scalar, column and transposed broadcasting", () => {
  const ops: BinaryOp[] = ["add", "sub", "mul", "div", "pow", "max", "min", "eq", "gt", "lt"];
  const layouts: { name: string; shape: number[]; a: number[]; b: number[]; transposeA?: boolean }[] = [
    { name: "same", shape: [5, 7], a: [5, 7], b: [5, 7] },
    { name: "large", shape: [300, 257], a: [300, 257], b: [300, 257] },
    { name: "bias", shape: [9, 33], a: [9, 33], b: [1, 33] },
    { name: "bias-large", shape: [400, 300], a: [400, 300], b: [1, 300] },
    { name: "scalar", shape: [4, 3, 5], a: [4, 3, 5], b: [1, 1, 1] },
    { name: "column", shape: [6, 11], a: [6, 11], b: [6, 1] },
    { name: "outer", shape: [3, 1, 5], a: [3, 1, 5], b: [1, 4, 5] },
    { name: "both", shape: [3, 4, 5], a: [3, 1, 5], b: [1, 4, 1] },
    { name: "rank0", shape: [], a: [], b: [] },
    { name: "size1", shape: [1], a: [1], b: [1] },
    { name: "empty", shape: [3, 0], a: [3, 0], b: [3, 0] },
    { name: "transposed", shape: [13, 8], a: [8, 13], b: [13, 8], transposeA: true },
  ];
  let seed = 7;
  for (const layout of layouts) {
    const random = rng(seed++);
    const a = randomF32(size(layout.a), random, 0.25, 3);
    const b = randomF32(size(layout.b), random, -2, 2);
    // duplicates (for eq/max ties) and NaN (for max/min semantics)
    if (a.length > 3 && b.length > 3) {
      a[1] = b[1];
      a[2] = Number.NaN;
      b[3] = Number.NaN;
    }
    const aStrides = layout.transposeA ? [1, layout.a[1]] : broadcastStrides(layout.a, layout.shape);
    const bStrides = broadcastStrides(layout.b, layout.shape);
    const n = size(layout.shape);
    for (const op of ops) {
      const expected = new Float64Array(n);
      ref.binary(op, f64(a), aStrides, f64(b), bStrides, expected, layout.shape);
      const actual = new Float32Array(n);
      native.binary(op, a, aStrides, b, bStrides, actual, layout.shape);
      assertClose(actual, Float32Array.from(expected), 0, op === "pow" ? 1e-6 : 0, `${op} ${layout.name}`);
    }
  }
});

test("where: float and int conditions with broadcasting", () => {
  const shape = [4, 6, 5];
  const random = rng(3);
  for (const big of [false, true]) {
    const s = big ? [40, 60, 50] : shape;
    const condF = Float32Array.from({ length: s[1] * s[2] }, () => (random() < 0.5 ? 0 : random()));
    const condI = Int32Array.from(condF, (v) => (v === 0 ? 0 : -3));
    const a = randomF32(size(s), random);
    const b = randomF32(s[2], random);
    const condStrides = [0, s[2], 1];
    const aStrides = broadcastStrides(s, s);
    const bStrides = [0, 0, 1];
    for (const cond of [condF, condI]) {
      const expected = new Float64Array(size(s));
      ref.where(cond, condStrides, f64(a), aStrides, f64(b), bStrides, expected, s);
      const actual = new Float32Array(size(s));
      native.where(cond, condStrides, a, aStrides, b, bStrides, actual, s);
      assertClose(actual, expected, 0, 0, `where ${cond.constructor.name} big=${big}`);
    }
  }
});

// ---------------------------------------------------------------- reductions and copies

test("reduce (sum, max with NaN), argmax (first of ties), sumSquares", () => {
  const shapes = [
    [1, 1, 1],
    [3, 7, 1],
    [1, 100000, 1],
    [5, 1, 9],
    [2, 33, 17],
    [300, 300, 1],
    [1, 300, 500],
    [4, 0, 3],
  ];
  let seed = 11;
  for (const [outer, sz, inner] of shapes) {
    const random = rng(seed++);
    const x = Float32Array.from({ length: outer * sz * inner }, () => Math.round(random() * 8) / 4 - 1);
    for (const op of ["sum", "max"] as const) {
      const expected = new Float64Array(outer * inner);
      ref.reduce(op, f64(x), expected, outer, sz, inner);
      const actual = new Float32Array(outer * inner);
      native.reduce(op, x, actual, outer, sz, inner);
      assertClose(actual, expected, 1e-6 * Math.sqrt(sz + 1), 1e-6, `${op} ${outer}x${sz}x${inner}`);
    }
    const expectedIdx = new Int32Array(outer * inner);
    ref.argmax(f64(x), expectedIdx, outer, sz, inner);
    const actualIdx = new Int32Array(outer * inner);
    native.argmax(x, actualIdx, outer, sz, inner);
    assert.deepEqual(actualIdx, expectedIdx, `argmax ${outer}x${sz}x${inner}`);
  }
  const withNaN = Float32Array.from([1, Number.NaN, 3, 2, 5, 4]);
  const out = new Float32Array(2);
  native.reduce("max", withNaN, out, 1, 3, 2);
  assert.ok(Number.isNaN(out[1]) && out[0] === 5, `max propagates NaN per column: ${out}`);
  native.reduce("max", withNaN, out, 2, 3, 1);
  assert.ok(Number.isNaN(out[0]) && out[1] === 5, `max propagates NaN per row: ${out}`);
  // one reduction over many rows splits its rows over the threads (a bias gradient over the tokens): sums of
  // the partials, and a NaN or the maximum in any thread's rows
  const tall = Float32Array.from({ length: 1030 * 64 }, (_, i) => Math.round(Math.sin(i) * 8) / 4);
  tall[900 * 64 + 3] = Number.NaN;
  tall[10 * 64 + 5] = Number.NaN;
  tall[1029 * 64 + 7] = 9;
  for (const threads of [1, 2, 3]) {
    withThreads(threads, () => {
      for (const op of ["sum", "max"] as const) {
        const expected = new Float64Array(64);
        ref.reduce(op, f64(tall), expected, 1, 1030, 64);
        const actual = new Float32Array(64);
        native.reduce(op, tall, actual, 1, 1030, 64);
        assertClose(actual, expected, 1e-4, 1e-6, `${op} 1x1030x64 t${threads}`);
        assert.ok(Number.isNaN(actual[3]) && Number.isNaN(actual[5]), `${op} t${threads}: NaN columns`);
      }
    });
  }
  for (const n of [0, 1, 17, 100001]) {
    const x = randomF32(n, rng(n));
    assertClose([native.sumSquares(x, n)], [ref.sumSquares(f64(x), n)], 1e-9, 1e-9, `sumSquares ${n}`);
  }
});

test("copyStrided: permutes, slices, expands, int32, overlapping; fill", () => {
  const random = rng(5);
  const src = randomF32(2 * 3 * 4 + 7, random);
  const cases: {
    name: string;
    shape: number[];
    srcOffset: number;
    srcStrides: number[];
    dstOffset: number;
    dstStrides: number[];
    dstLength: number;
  }[] = [
    {
      name: "contiguous",
      shape: [2, 3, 4],
      srcOffset: 0,
      srcStrides: [12, 4, 1],
      dstOffset: 0,
      dstStrides: [12, 4, 1],
      dstLength: 24,
    },
    {
      name: "permute",
      shape: [4, 2, 3],
      srcOffset: 1,
      srcStrides: [1, 12, 4],
      dstOffset: 0,
      dstStrides: [6, 3, 1],
      dstLength: 24,
    },
    {
      name: "slice-into",
      shape: [2, 2],
      srcOffset: 5,
      srcStrides: [4, 1],
      dstOffset: 3,
      dstStrides: [5, 1],
      dstLength: 12,
    },
    {
      name: "expand",
      shape: [3, 5],
      srcOffset: 2,
      srcStrides: [1, 0],
      dstOffset: 0,
      dstStrides: [5, 1],
      dstLength: 15,
    },
    {
      name: "scatter-columns",
      shape: [4, 3],
      srcOffset: 0,
      srcStrides: [3, 1],
      dstOffset: 0,
      dstStrides: [1, 4],
      dstLength: 12,
    },
    { name: "rank0", shape: [], srcOffset: 4, srcStrides: [], dstOffset: 1, dstStrides: [], dstLength: 2 },
  ];
  for (const c of cases) {
    const expected = new Float32Array(c.dstLength);
    ref.copyStrided(src, c.srcOffset, c.srcStrides, expected, c.dstOffset, c.dstStrides, c.shape);
    const actual = new Float32Array(c.dstLength);
    native.copyStrided(src, c.srcOffset, c.srcStrides, actual, c.dstOffset, c.dstStrides, c.shape);
    assert.deepEqual(actual, expected, c.name);
  }
  // a large transpose (threaded) and an int32 copy
  const big = randomF32(700 * 300, random);
  const expected = new Float32Array(big.length);
  ref.copyStrided(big, 0, [1, 300], expected, 0, [700, 1], [300, 700]);
  const actual = new Float32Array(big.length);
  native.copyStrided(big, 0, [1, 300], actual, 0, [700, 1], [300, 700]);
  assert.deepEqual(actual, expected, "large transpose");
  // splitting attention heads, [16, 64, 4, 16] -> [16, 4, 64, 16]: the last axis stays contiguous (the row path,
  // threaded at this size), and a slice of it written into a wider destination
  const heads = randomF32(16 * 64 * 4 * 16, random);
  for (const [shape, dstStrides, label] of [
    [[16, 4, 64, 16], [4096, 1024, 16, 1], "head split"],
    [[16, 4, 64, 7], [8192, 2048, 32, 1], "head split, 7 of 16 values into rows of 32"],
  ] as const) {
    const length = shape[0] * dstStrides[0];
    const e = new Float32Array(length);
    ref.copyStrided(heads, 0, [4096, 16, 64, 1], e, 0, dstStrides, shape);
    const got = new Float32Array(length);
    native.copyStrided(heads, 0, [4096, 16, 64, 1], got, 0, dstStrides, shape);
    assert.deepEqual(got, e, label);
  }
  // batched transposes walked in source order (the generic strided path): [3, 40, 50] -> [3, 50, 40], and a full permute
  const batched = randomF32(3 * 40 * 50, random);
  for (const [dstStrides, label] of [
    [[2000, 1, 40], "batched transpose"],
    [[1, 3, 120], "permute (2, 1, 0)"],
  ] as const) {
    const e = new Float32Array(batched.length);
    ref.copyStrided(batched, 0, [2000, 50, 1], e, 0, dstStrides, [3, 40, 50]);
    const got = new Float32Array(batched.length);
    native.copyStrided(batched, 0, [2000, 50, 1], got, 0, dstStrides, [3, 40, 50]);
    assert.deepEqual(got, e, label);
  }
  // the same transposes walked in destination order (source contiguous along rows: the tiled path)
  for (const [srcStrides, dstStrides, shape, label] of [
    [[2000, 1, 50], [2000, 40, 1], [3, 50, 40], "tiled batched transpose"],
    [[1, 37], [53, 1], [37, 53], "tiled 2-d transpose with partial tiles"],
  ] as const) {
    const e = new Float32Array(batched.length);
    ref.copyStrided(batched, 0, srcStrides, e, 0, dstStrides, shape);
    const got = new Float32Array(batched.length);
    native.copyStrided(batched, 0, srcStrides, got, 0, dstStrides, shape);
    assert.deepEqual(got, e, label);
  }
  const ints = Int32Array.from({ length: 30 }, (_, i) => i * 7 - 50);
  const intOut = new Int32Array(30);
  native.copyStrided(ints, 0, [1, 6], intOut, 0, [5, 1], [6, 5]);
  const intExpected = new Int32Array(30);
  ref.copyStrided(ints, 0, [1, 6], intExpected, 0, [5, 1], [6, 5]);
  assert.deepEqual(intOut, intExpected, "int32 transpose");
  // shift left by one inside one buffer, as a forward element loop does
  const shifted = Float32Array.from({ length: 10 }, (_, i) => i);
  const shiftedExpected = Float32Array.from(shifted);
  ref.copyStrided(shiftedExpected, 1, [1], shiftedExpected, 0, [1], [9]);
  native.copyStrided(shifted, 1, [1], shifted, 0, [1], [9]);
  assert.deepEqual(shifted, shiftedExpected, "overlapping copy");
  assert.throws(() => native.copyStrided(src, 0, [1], new Float32Array(3), 0, [1], [4]), RangeError);

  const filled = new Float32Array(300000);
  native.fill(filled, 2.5, 7, 299990);
  assert.equal(filled[6], 0);
  assert.equal(filled[7], 2.5);
  assert.equal(filled[299996], 2.5);
  assert.equal(filled[299997], 0);
  const filledInt = new Int32Array(9);
  native.fill(filledInt, -3, 1, 7);
  assert.deepEqual(filledInt, Int32Array.from([0, -3, -3, -3, -3, -3, -3, -3, 0]));
});

// ---------------------------------------------------------------- rows: softmax, norms, losses

const ROW_SHAPES = [
  [1, 1],
  [3, 7],
  [2, 129],
  [64, 1000],
  [300, 257],
];

test("softmax and log-softmax, forward and backward", () => {
  let seed = 21;
  for (const [rows, cols] of ROW_SHAPES) {
    const random = rng(seed++);
    const x = randomF32(rows * cols, random, -12, 12);
    if (cols > 3) {
      x[1] = Number.NEGATIVE_INFINITY; // a masked logit
      x[cols + 2] = 30;
    }
    const dy = randomF32(rows * cols, random);
    for (const log of [false, true]) {
      const expected = new Float64Array(rows * cols);
      const actual = new Float32Array(rows * cols);
      if (log) {
        ref.logSoftmax(f64(x), expected, rows, cols);
        native.logSoftmax(x, actual, rows, cols);
      } else {
        ref.softmax(f64(x), expected, rows, cols);
        native.softmax(x, actual, rows, cols);
      }
      // log-softmax: x - lse cancels; float32 logits near 12 carry ~1e-6 absolute rounding
      assertClose(actual, expected, log ? 1e-6 : 1e-7, 2e-6, `${log ? "log" : ""}softmax ${rows}x${cols}`);
      const expectedDx = new Float64Array(rows * cols);
      const dx = new Float32Array(rows * cols);
      if (log) {
        ref.logSoftmaxBackward(f64(actual), f64(dy), expectedDx, rows, cols);
        native.logSoftmaxBackward(actual, dy, dx, rows, cols);
      } else {
        ref.softmaxBackward(f64(actual), f64(dy), expectedDx, rows, cols);
        native.softmaxBackward(actual, dy, dx, rows, cols);
      }
      assertClose(dx, expectedDx, 1e-6, 1e-5, `${log ? "log" : ""}softmax backward ${rows}x${cols}`);
    }
  }
});

test("layer norm and RMS norm, forward and backward, with and without weight and bias, 1-3 threads", () => {
  // threads sum the parameter gradients of their own rows; 1030 rows split unevenly over 3
  for (const threads of [1, 2, 3])
    withThreads(threads, () => checkNorms([...ROW_SHAPES, [1030, 64], [21, 128], [13, 8]], threads));
});

function checkNorms(shapes: number[][], threads: number): void {
  let seed = 31;
  for (const [rows, cols] of shapes) {
    const random = rng(seed++);
    const x = randomF32(rows * cols, random, -3, 5);
    const w = randomF32(cols, random, 0.5, 1.5);
    const b = randomF32(cols, random);
    const dy = randomF32(rows * cols, random);
    for (const [useW, useB] of [
      [true, true],
      [true, false],
      [false, true],
      [false, false],
    ]) {
      const label = `${rows}x${cols} w=${useW} b=${useB} t${threads}`;
      const eMean = new Float64Array(rows);
      const eRstd = new Float64Array(rows);
      const eOut = new Float64Array(rows * cols);
      ref.layerNorm(f64(x), useW ? f64(w) : null, useB ? f64(b) : null, eOut, eMean, eRstd, rows, cols, 1e-5);
      const mean = new Float32Array(rows);
      const rstd = new Float32Array(rows);
      const out = new Float32Array(rows * cols);
      native.layerNorm(x, useW ? w : null, useB ? b : null, out, mean, rstd, rows, cols, 1e-5);
      assertClose(out, eOut, 2e-6, 2e-5, `layerNorm ${label}`);
      assertClose(mean, eMean, 1e-6, 1e-5, `layerNorm mean ${label}`);
      assertClose(rstd, eRstd, 1e-6, 1e-5, `layerNorm rstd ${label}`);

      const eDx = new Float64Array(rows * cols);
      const eDw = new Float64Array(cols);
      const eDb = new Float64Array(cols);
      ref.layerNormBackward(
        f64(dy),
        f64(x),
        useW ? f64(w) : null,
        f64(mean),
        f64(rstd),
        eDx,
        useW ? eDw : null,
        useB ? eDb : null,
        rows,
        cols,
      );
      const dx = new Float32Array(rows * cols);
      const dw = new Float32Array(cols).fill(Number.NaN);
      const db = new Float32Array(cols).fill(Number.NaN);
      native.layerNormBackward(
        dy,
        x,
        useW ? w : null,
        mean,
        rstd,
        dx,
        useW ? dw : null,
        useB ? db : null,
        rows,
        cols,
      );
      assertClose(dx, eDx, 1e-5, 1e-4, `layerNorm dx ${label}`);
      if (useW) assertClose(dw, eDw, 1e-5 * Math.sqrt(rows), 1e-4, `layerNorm dw ${label}`);
      if (useB) assertClose(db, eDb, 1e-5 * Math.sqrt(rows), 1e-4, `layerNorm db ${label}`);

      if (useB) continue; // RMS norm has no bias
      const eR = new Float64Array(rows);
      const eY = new Float64Array(rows * cols);
      ref.rmsNorm(f64(x), useW ? f64(w) : null, eY, eR, rows, cols, 1e-6);
      const r = new Float32Array(rows);
      const y = new Float32Array(rows * cols);
      native.rmsNorm(x, useW ? w : null, y, r, rows, cols, 1e-6);
      assertClose(y, eY, 1e-6, 2e-5, `rmsNorm ${label}`);
      assertClose(r, eR, 1e-7, 1e-5, `rmsNorm rstd ${label}`);
      const eRdx = new Float64Array(rows * cols);
      const eRdw = new Float64Array(cols);
      ref.rmsNormBackward(
        f64(dy),
        f64(x),
        useW ? f64(w) : null,
        f64(r),
        eRdx,
        useW ? eRdw : null,
        rows,
        cols,
      );
      const rdx = new Float32Array(rows * cols);
      const rdw = new Float32Array(cols).fill(Number.NaN);
      native.rmsNormBackward(dy, x, useW ? w : null, r, rdx, useW ? rdw : null, rows, cols);
      assertClose(rdx, eRdx, 1e-5, 1e-4, `rmsNorm dx ${label}`);
      if (useW) assertClose(rdw, eRdw, 1e-5 * Math.sqrt(rows), 1e-4, `rmsNorm dw ${label}`);
    }
  }
}

test("cross-entropy forward and backward with ignored targets", () => {
  let seed = 41;
  for (const [rows, cols] of ROW_SHAPES) {
    const random = rng(seed++);
    const logits = randomF32(rows * cols, random, -10, 10);
    const targets = Int32Array.from({ length: rows }, (_, i) =>
      i % 5 === 4 ? -100 : Math.floor(random() * cols),
    );
    const eLoss = new Float64Array(rows);
    const eLse = new Float64Array(rows);
    ref.crossEntropy(f64(logits), targets, eLoss, eLse, rows, cols, -100);
    const loss = new Float32Array(rows);
    const lse = new Float32Array(rows);
    native.crossEntropy(logits, targets, loss, lse, rows, cols, -100);
    assertClose(loss, eLoss, 1e-5, 1e-5, `crossEntropy ${rows}x${cols}`);
    assertClose(lse, eLse, 1e-5, 1e-6, `crossEntropy lse ${rows}x${cols}`);
    const dLoss = randomF32(rows, random);
    const eD = new Float64Array(rows * cols);
    ref.crossEntropyBackward(f64(logits), targets, f64(lse), f64(dLoss), eD, rows, cols, -100);
    const d = new Float32Array(rows * cols).fill(Number.NaN);
    native.crossEntropyBackward(logits, targets, lse, dLoss, d, rows, cols, -100);
    assertClose(d, eD, 1e-6, 1e-5, `crossEntropy backward ${rows}x${cols}`);
  }
  assert.throws(
    () =>
      native.crossEntropy(
        new Float32Array(4),
        Int32Array.from([0, 9]),
        new Float32Array(2),
        new Float32Array(2),
        2,
        2,
        -100,
      ),
    RangeError,
  );
});

// ---------------------------------------------------------------- embeddings, RoPE, attention, AdamW

test("gatherRows and scatterAddRows (repeated ids, skipped padding id)", () => {
  const random = rng(51);
  for (const [vocab, cols, count] of [
    [5, 1, 3],
    [11, 7, 40],
    [1000, 300, 500],
  ]) {
    const table = randomF32(vocab * cols, random);
    const ids = Int32Array.from({ length: count }, (_, i) =>
      i % 3 === 0 ? 2 : Math.floor(random() * vocab),
    );
    const expected = new Float64Array(count * cols);
    ref.gatherRows(f64(table), ids, expected, cols);
    const actual = new Float32Array(count * cols);
    native.gatherRows(table, ids, actual, cols);
    assertClose(actual, expected, 0, 0, `gather ${vocab}x${cols}`);
    const dOut = randomF32(count * cols, random);
    for (const skip of [-1, 2]) {
      const eTable = f64(table);
      ref.scatterAddRows(f64(dOut), ids, eTable, cols, skip);
      const aTable = Float32Array.from(table);
      native.scatterAddRows(dOut, ids, aTable, cols, skip);
      // float32 accumulation of up to count/3 rows into one: error grows with the number of repeats
      assertClose(aTable, eTable, 1e-7 * count, 1e-6, `scatterAdd ${vocab}x${cols} skip ${skip}`);
    }
  }
  assert.throws(
    () => native.gatherRows(new Float32Array(4), Int32Array.from([2]), new Float32Array(2), 2),
    RangeError,
  );
});

test("RoPE forward and inverse, rotate-half convention", () => {
  const random = rng(61);
  for (const [batch, heads, seq, headDim] of [
    [1, 1, 1, 2],
    [2, 3, 5, 8],
    [2, 12, 64, 64],
  ]) {
    const n = batch * heads * seq * headDim;
    const x = randomF32(n, random);
    const positions = Int32Array.from({ length: batch * seq }, () => Math.floor(random() * 4096));
    const invFreq = Float64Array.from({ length: headDim / 2 }, (_, i) => 10000 ** ((-2 * i) / headDim));
    for (const inverse of [false, true]) {
      const expected = new Float64Array(n);
      ref.rope(f64(x), expected, positions, invFreq, batch, heads, seq, headDim, inverse);
      const actual = new Float32Array(n);
      native.rope(x, actual, positions, invFreq, batch, heads, seq, headDim, inverse);
      assertClose(
        actual,
        expected,
        1e-6,
        1e-5,
        `rope ${batch}x${heads}x${seq}x${headDim} inverse=${inverse}`,
      );
    }
    // in place
    const inPlace = Float32Array.from(x);
    const expected = new Float32Array(n);
    native.rope(x, expected, positions, invFreq, batch, heads, seq, headDim, false);
    native.rope(inPlace, inPlace, positions, invFreq, batch, heads, seq, headDim, false);
    assert.deepEqual(inPlace, expected, "rope in place");
  }
});

test("attention forward and backward: GQA, causal offsets, key bias, decode step", () => {
  const cases = [
    { batch: 1, heads: 1, kvHeads: 1, tq: 1, tk: 1, headDim: 1, causal: false, causalOffset: 0, bias: false },
    { batch: 2, heads: 4, kvHeads: 2, tq: 5, tk: 7, headDim: 8, causal: true, causalOffset: 2, bias: true },
    { batch: 2, heads: 3, kvHeads: 3, tq: 6, tk: 6, headDim: 5, causal: false, causalOffset: 0, bias: true },
    { batch: 1, heads: 4, kvHeads: 1, tq: 1, tk: 9, headDim: 16, causal: true, causalOffset: 8, bias: false },
    // decode steps (one query row): keys in fours and a remainder, head sizes on the 8-lane path (32), off it
    // (12) and past the register row (160), a key bias, a causal offset before the last key, and no key visible
    {
      batch: 3,
      heads: 4,
      kvHeads: 2,
      tq: 1,
      tk: 23,
      headDim: 32,
      causal: true,
      causalOffset: 22,
      bias: true,
    },
    {
      batch: 2,
      heads: 2,
      kvHeads: 2,
      tq: 1,
      tk: 10,
      headDim: 12,
      causal: true,
      causalOffset: 6,
      bias: false,
    },
    {
      batch: 1,
      heads: 2,
      kvHeads: 1,
      tq: 1,
      tk: 7,
      headDim: 160,
      causal: false,
      causalOffset: 0,
      bias: true,
    },
    { batch: 1, heads: 1, kvHeads: 1, tq: 1, tk: 5, headDim: 8, causal: true, causalOffset: -1, bias: false },
    {
      batch: 2,
      heads: 4,
      kvHeads: 2,
      tq: 64,
      tk: 64,
      headDim: 32,
      causal: true,
      causalOffset: 0,
      bias: true,
    },
    {
      batch: 1,
      heads: 2,
      kvHeads: 2,
      tq: 33,
      tk: 70,
      headDim: 64,
      causal: false,
      causalOffset: 0,
      bias: false,
    },
    // several causal row blocks, a prefix (offset > 0) and rows that see no key at all (offset < 0: NaN rows)
    {
      batch: 1,
      heads: 2,
      kvHeads: 1,
      tq: 150,
      tk: 150,
      headDim: 16,
      causal: true,
      causalOffset: 0,
      bias: true,
    },
    {
      batch: 2,
      heads: 2,
      kvHeads: 2,
      tq: 130,
      tk: 140,
      headDim: 8,
      causal: true,
      causalOffset: 10,
      bias: false,
    },
    {
      batch: 1,
      heads: 1,
      kvHeads: 1,
      tq: 70,
      tk: 70,
      headDim: 4,
      causal: true,
      causalOffset: -3,
      bias: false,
    },
    // token rows with head sizes 8-32, rows that see no key (NaN), key counts off the 8-lane grid, a sliding
    // window, GQA
    {
      batch: 2,
      heads: 4,
      kvHeads: 4,
      tq: 64,
      tk: 64,
      headDim: 16,
      causal: false,
      causalOffset: 0,
      bias: true,
      layout: "tokens" as const,
    },
    {
      batch: 1,
      heads: 2,
      kvHeads: 1,
      tq: 10,
      tk: 13,
      headDim: 8,
      causal: true,
      causalOffset: -3,
      bias: false,
    },
    {
      batch: 2,
      heads: 3,
      kvHeads: 1,
      tq: 7,
      tk: 61,
      headDim: 24,
      causal: true,
      causalOffset: 54,
      bias: true,
      window: 5,
    },
    {
      batch: 1,
      heads: 2,
      kvHeads: 2,
      tq: 2,
      tk: 64,
      headDim: 32,
      causal: false,
      causalOffset: 0,
      bias: true,
      layout: "tokens" as const,
    },
  ];
  let seed = 71;
  for (const c of cases) {
    const random = rng(seed++);
    const label = JSON.stringify(c);
    const q = randomF32(c.batch * c.heads * c.tq * c.headDim, random, -2, 2);
    const k = randomF32(c.batch * c.kvHeads * c.tk * c.headDim, random, -2, 2);
    const v = randomF32(c.batch * c.kvHeads * c.tk * c.headDim, random);
    const keyBias = c.bias
      ? Float32Array.from({ length: c.batch * c.tk }, (_, i) =>
          i % c.tk === c.tk - 1 && c.tk > 1 ? -1e9 : 0,
        )
      : null;
    const scale = 1 / Math.sqrt(c.headDim);
    const dims = {
      batch: c.batch,
      heads: c.heads,
      kvHeads: c.kvHeads,
      tq: c.tq,
      tk: c.tk,
      headDim: c.headDim,
      scale,
      layout: (c.layout ?? "heads") as AttentionLayout,
    };
    const eOut = new Float64Array(q.length);
    const eProbs = new Float64Array(c.batch * c.heads * c.tq * c.tk);
    ref.attention({
      ...dims,
      causal: c.causal,
      causalOffset: c.causalOffset,
      window: c.window ?? 0,
      q: f64(q),
      k: f64(k),
      v: f64(v),
      keyBias: keyBias && f64(keyBias),
      out: eOut,
      probs: eProbs,
    });
    const out = new Float32Array(q.length);
    const probs = new Float32Array(eProbs.length);
    native.attention({
      ...dims,
      causal: c.causal,
      causalOffset: c.causalOffset,
      window: c.window ?? 0,
      q,
      k,
      v,
      keyBias,
      out,
      probs,
    });
    assertClose(probs, eProbs, 1e-6, 1e-5, `attention probs ${label}`);
    assertClose(out, eOut, 2e-6, 2e-5, `attention out ${label}`);

    const dOut = randomF32(q.length, random);
    const eDq = new Float64Array(q.length);
    const eDk = new Float64Array(k.length);
    const eDv = new Float64Array(v.length);
    ref.attentionBackward({
      ...dims,
      q: f64(q),
      k: f64(k),
      v: f64(v),
      probs: f64(probs),
      dOut: f64(dOut),
      dq: eDq,
      dk: eDk,
      dv: eDv,
    });
    const dq = new Float32Array(q.length).fill(Number.NaN);
    const dk = new Float32Array(k.length).fill(Number.NaN);
    const dv = new Float32Array(v.length).fill(Number.NaN);
    native.attentionBackward({ ...dims, q, k, v, probs, dOut, dq, dk, dv });
    const atol = 2e-6 * Math.sqrt(c.tk * c.headDim) * (c.heads / c.kvHeads);
    assertClose(dq, eDq, atol, 1e-4, `attention dq ${label}`);
    assertClose(dk, eDk, atol, 1e-4, `attention dk ${label}`);
    assertClose(dv, eDv, atol, 1e-4, `attention dv ${label}`);
  }
});

test("attention: a batch whose keys are all masked by -inf bias gives NaN rows, like the reference", () => {
  // head sizes off and on the 8-lane grid
  for (const headDim of [2, 16]) attentionMaskedBatch(headDim);
});

function attentionMaskedBatch(headDim: number): void {
  const dims = {
    batch: 2,
    heads: 1,
    kvHeads: 1,
    tq: 3,
    tk: 4,
    headDim,
    scale: 1,
    causal: false,
    causalOffset: 0,
  };
  const q = randomF32(2 * 3 * headDim, rng(5));
  const k = randomF32(2 * 4 * headDim, rng(6));
  const v = randomF32(2 * 4 * headDim, rng(7));
  const keyBias = Float32Array.from([0, 0, 0, 0, -Infinity, -Infinity, -Infinity, -Infinity]);
  const eOut = new Float64Array(q.length);
  const eProbs = new Float64Array(2 * 3 * 4);
  ref.attention({
    ...dims,
    q: f64(q),
    k: f64(k),
    v: f64(v),
    keyBias: f64(keyBias),
    out: eOut,
    probs: eProbs,
  });
  const out = new Float32Array(q.length);
  const probs = new Float32Array(eProbs.length);
  native.attention({ ...dims, q, k, v, keyBias, out, probs });
  assertClose(probs, eProbs, 1e-6, 1e-5, "probs");
  assertClose(out, eOut, 1e-6, 1e-5, "out");
  assert.ok(probs.subarray(12).every(Number.isNaN), "the masked batch's probabilities are NaN");
}

/**
 * GELU forward and backward and an attention forward (its softmax) under one instruction set: the outputs, and
 * the reference's, for inputs with a zero, a far tail and a NaN midway (GELU's backward leaves its 16-lane loop
 * there) and scales that are and are not powers of two (the softmax folds the scale into its exps).
 */
function expBoundKernels(isa: NativeIsa): {
  outputs: Float32Array[];
  expected: Float64Array[];
  labels: string[];
} {
  assert.equal(native.setIsa(isa), isa);
  const n = 100_003;
  const x = randomF32(n, rng(901), -9, 9);
  x[3] = 1e-7; // a lane near 0 in the first vector: the 16-lane loop resumes after it
  x[50_001] = 0;
  x[70_000] = 20;
  x[90_000] = Number.NaN;
  const dy = randomF32(n, rng(902));
  const y = new Float32Array(n);
  const dx = new Float32Array(n);
  native.unary("gelu", x, y, n, 0);
  native.unaryBackward("gelu", x, y, dy, dx, n, 0);
  const eY = new Float64Array(n);
  const eDx = new Float64Array(n);
  ref.unary("gelu", f64(x), eY, n, 0);
  ref.unaryBackward("gelu", f64(x), f64(y), f64(dy), eDx, n, 0);
  const outputs = [y, dx];
  const expected = [eY, eDx];
  const labels = ["gelu", "gelu backward"];
  const random = rng(903);
  const [batch, heads, t, d] = [2, 4, 64, 16];
  const q = randomF32(batch * t * heads * d, random, -2, 2);
  const k = randomF32(q.length, random, -2, 2);
  const v = randomF32(q.length, random);
  const keyBias = Float32Array.from({ length: batch * t }, (_, i) => (i % 7 === 3 ? -1e9 : 0));
  for (const [scale, bias] of [
    [0.25, null],
    [0.3, null],
    [0.25, keyBias],
  ] as const) {
    const dims = {
      batch,
      heads,
      kvHeads: heads,
      tq: t,
      tk: t,
      headDim: d,
      scale,
      causal: false,
      causalOffset: 0,
    };
    const out = new Float32Array(q.length);
    const probs = new Float32Array(batch * heads * t * t);
    native.attention({ ...dims, layout: "tokens", q, k, v, keyBias: bias, out, probs });
    const eOut = new Float64Array(q.length);
    const eProbs = new Float64Array(probs.length);
    const keys = { q: f64(q), k: f64(k), v: f64(v), keyBias: bias && f64(bias) };
    ref.attention({ ...dims, layout: "tokens", ...keys, out: eOut, probs: eProbs });
    outputs.push(probs, out);
    expected.push(eProbs, eOut);
    labels.push(
      `attention probs scale ${scale} bias ${bias !== null}`,
      `attention out scale ${scale} bias ${bias !== null}`,
    );
  }
  native.setIsa(native.bestIsa);
  return { outputs, expected, labels };
}

test("GELU and the attention softmax follow the reference under each instruction set", () => {
  for (const isa of supportedIsas()) {
    const { outputs, expected, labels } = expBoundKernels(isa);
    outputs.forEach((o, i) => {
      const tol = labels[i].startsWith("gelu") ? [1e-6, 2e-5] : [2e-6, 2e-5];
      assertClose(o, expected[i], tol[0], tol[1], `${isa} ${labels[i]}`);
    });
  }
});

test("the 16-lane AVX-512 loops (GELU, the attention softmax) give the 8-lane loops' values bit for bit", {
  skip: native.bestIsa !== "avx512" && "this CPU has no AVX-512: only the 8-lane loops run here",
}, () => {
  const narrow = expBoundKernels("avx2");
  const wide = expBoundKernels("avx512");
  wide.outputs.forEach((o, i) => {
    const n = narrow.outputs[i];
    const first = o.findIndex((value, j) => !Object.is(value, n[j]));
    assert.equal(first, -1, `${wide.labels[i]}: [${first}] ${o[first]} (16 lanes) vs ${n[first]} (8 lanes)`);
  });
});

test("AdamW: three steps over tensors of many sizes and groups match PyTorch's formula (the reference)", () => {
  // one call per step: sizes below and above a piece (8192), not multiples of 16, per-tensor lr and decay;
  // alone (1 value), together under the serial threshold (37 + 5), and together on the pool
  for (const sizes of [[1], [37, 5], [100003, 64, 3, 8192, 8193, 16384, 1]]) {
    const random = rng(sizes.length);
    const tensors = sizes.map((n, t) => {
      const p = randomF32(n, random);
      return {
        n,
        lr: 1e-3 * (t + 1),
        weightDecay: t % 2 === 0 ? 0.01 : 0,
        p,
        m: new Float32Array(n),
        v: new Float32Array(n),
        eP: f64(p),
        eM: new Float64Array(n),
        eV: new Float64Array(n),
      };
    });
    for (let step = 1; step <= 3; step++) {
      const grads = sizes.map((n) => randomF32(n, random));
      const hyper = { beta1: 0.9, beta2: 0.999, eps: 1e-8, step };
      ref.adamw(
        tensors.map((t, i) => ({ ...t, param: t.eP, grad: f64(grads[i]), m: t.eM, v: t.eV })),
        hyper,
      );
      native.adamw(
        tensors.map((t, i) => ({ ...t, param: t.p, grad: grads[i], m: t.m, v: t.v })),
        hyper,
      );
    }
    for (const t of tensors) {
      assertClose(t.p, t.eP, 1e-7, 1e-6, `adamw param n=${t.n}`);
      assertClose(t.m, t.eM, 1e-7, 1e-6, `adamw m n=${t.n}`);
      assertClose(t.v, t.eV, 1e-9, 1e-5, `adamw v n=${t.n}`);
    }
  }
});

test("AdamW: values past n stay untouched; short arrays and float64 are refused with the tensor named", () => {
  const p = new Float32Array([1, 2, 3]);
  const grad = new Float32Array([1, 1, 1]);
  const m = new Float32Array(3);
  const v = new Float32Array(3);
  const hyper = { beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1 };
  native.adamw([{ param: p, grad, m, v, n: 2, lr: 0.1, weightDecay: 0 }], hyper);
  assert.notEqual(p[0], 1);
  assert.equal(p[2], 3);
  assert.equal(m[2], 0);
  assert.throws(
    () => native.adamw([{ param: p, grad: new Float32Array(2), m, v, n: 3, lr: 0.1, weightDecay: 0 }], hyper),
    /adamw grad has 2 elements, the call needs 3/,
  );
  assert.throws(
    () => native.adamw([{ param: new Float64Array(3), grad, m, v, n: 3, lr: 0.1, weightDecay: 0 }], hyper),
    /float32 only/,
  );
});

// ---------------------------------------------------------------- storage and threads

test("alloc gives zero-filled pooled arrays; release recycles them", () => {
  const a = native.alloc("float32", 5000);
  assert.ok(a instanceof Float32Array && a.length === 5000 && a.every((x) => x === 0));
  a.fill(3);
  native.release(a);
  const b = native.alloc("float32", 5000);
  assert.equal(b, a, "the released array is reused");
  assert.ok(
    b.every((x) => x === 0),
    "and zeroed again",
  );
  const ids = native.alloc("int32", 3);
  assert.ok(ids instanceof Int32Array && ids.length === 3);
  native.release(ids);
  native.release(b);
});

test("alloc gives arrays that start on a 64-byte boundary (whole cache lines per row of 16 floats)", () => {
  const taken: (Float32Array | Int32Array)[] = [];
  for (const n of [1, 3, 16, 17, 1000, 4096, 100_003]) {
    for (const dtype of ["float32", "int32"] as const) {
      const array = native.alloc(dtype, n, false);
      assert.equal(array.length, n);
      assert.equal(native.alignOffset(array), 0, `${dtype}[${n}]`);
      // the probe itself: a view one element further is 15 elements short of the next boundary
      if (n > 1) assert.equal(native.alignOffset(array.subarray(1)), 15, `${dtype}[${n}].subarray(1)`);
      taken.push(array);
    }
  }
  for (const array of taken) native.release(array);
});

const nativeModuleUrl = new URL("../../src/backend/native.js", import.meta.url).href;

function childReport(env: Record<string, string>): { threads: number; isa: string } {
  const script = `import(${JSON.stringify(nativeModuleUrl)}).then((m) => { const b = m.loadNativeBackend(); console.log(JSON.stringify({ threads: b.threads, isa: b.isa })); });`;
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    env: { ...process.env, ...env },
    encoding: "utf8",
    cwd: fileURLToPath(new URL(".", import.meta.url)),
  });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout.trim());
}

test("ADAPTLM_THREADS sets the pool size; ADAPTLM_ISA lowers the instruction set", () => {
  assert.equal(childReport({ ADAPTLM_THREADS: "1" }).threads, 1);
  assert.equal(childReport({ ADAPTLM_THREADS: "3" }).threads, 3);
  assert.equal(childReport({ ADAPTLM_ISA: "scalar" }).isa, "scalar");
  assert.ok(defaultThreads >= 1);
  withThreads(2, () => assert.equal(native.threads, 2));
  assert.equal(native.threads, defaultThreads);
});
