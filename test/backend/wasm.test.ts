// The wasm backend against the reference backend: every kernel on random inputs with odd sizes and size 1,
// on one thread and on several (sizes above the threading threshold), with arrays from the backend's own
// memory and with plain arrays (the copy-in/copy-out path). A missing wasm file fails these tests.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { Backend, BinaryOp, FloatArray, UnaryOp } from "../../src/backend/backend.js";
import { referenceBackend as ref } from "../../src/backend/reference.js";
import {
  createWasmBackend,
  loadWasmBackend,
  type WasmBackend,
  wasmKernelBuild,
  wasmMultiplyAddPeak,
} from "../../src/backend/wasm.js";

function requireBackend(threads: number): Backend {
  const backend = createWasmBackend({ threads });
  assert.ok(
    backend,
    "the wasm backend did not load: wasm/adaptlm_kernels.wasm is missing, run `npm run build:wasm`",
  );
  return backend;
}

const single = requireBackend(1);
const multi = requireBackend(3);

function jobCount(b: Backend): number {
  return (b as WasmBackend).parallelJobs;
}

/** The 3-thread backend's cases are sized to split jobs across threads; the 1-thread backend never does. */
function expectThreaded(b: Backend, jobsBefore: number): void {
  if (b === multi) assert.ok(jobCount(b) > jobsBefore, "expected at least one job split across threads");
  else assert.equal(jobCount(b), 0, "the 1-thread backend never splits jobs");
}
const backends: [string, Backend][] = [
  ["1 thread", single],
  ["3 threads", multi],
];

/** Mulberry32: a small seeded generator. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A wasm-allocated array (or a plain one when plain) filled with uniform values in [lo, hi). */
function randomArray(b: Backend, n: number, seed: number, lo = -1, hi = 1, plain = false): Float32Array {
  const next = rng(seed);
  const out = plain ? new Float32Array(n) : b.alloc("float32", n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * next();
  return out;
}

function copyOf(b: Backend, x: FloatArray): Float32Array {
  const out = b.alloc("float32", x.length);
  out.set(x);
  return out;
}

function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol: number,
  atol: number,
  what: string,
) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e)) {
      assert.ok(Number.isNaN(a), `${what}[${i}]: expected NaN, got ${a}`);
      continue;
    }
    if (!Number.isFinite(e)) {
      assert.equal(a, e, `${what}[${i}]`);
      continue;
    }
    const tol = atol + rtol * Math.abs(e);
    if (!(Math.abs(a - e) <= tol)) {
      assert.fail(`${what}[${i}]: got ${a}, expected ${e} (tolerance ${tol})`);
    }
  }
}

describe("wasm backend: loading and memory", () => {
  it("loads with the requested thread counts", () => {
    assert.equal(single.name, "wasm");
    assert.equal(single.threads, 1);
    assert.equal(multi.threads, 3);
    assert.equal(single.supportsFloat64, false);
  });

  it("allocates zero-filled views of its memory and recycles released blocks zeroed", () => {
    const a = single.alloc("float32", 1000);
    assert.ok(a instanceof Float32Array);
    assert.equal(a.length, 1000);
    assert.ok(a.every((v) => v === 0));
    a.fill(7);
    const address = a.byteOffset;
    single.release(a);
    const b = single.alloc("float32", 1000);
    assert.equal(b.byteOffset, address, "a released block of the same size class is reused");
    assert.ok(
      b.every((v) => v === 0),
      "recycled memory is zeroed",
    );
    const ids = single.alloc("int32", 5);
    assert.ok(ids instanceof Int32Array);
    assert.equal(ids.byteOffset % 16, 0);
    single.release(b);
    single.release(ids);
    assert.throws(() => single.release(ids), /not a live allocation/);
    single.release(new Float32Array(4)); // not from this backend: left to the garbage collector
    assert.throws(() => single.alloc("float64", 4), /float32 only/);
  });

  it("keeps earlier arrays valid and usable after the memory grows", () => {
    const small = randomArray(single, 64, 1);
    const expected = Float32Array.from(small, (v) => v * 2);
    const big = single.alloc("float32", 40 * 1024 * 1024); // 160 MB: forces a grow
    single.unary("scale", small, small, 64, 2);
    assertClose(small, expected, 0, 0, "scale after grow");
    big[big.length - 1] = 3;
    single.unary("scale", big, big, big.length, 2);
    assert.equal(big[big.length - 1], 6);
    single.release(big);
    single.release(small);
  });

  it("workers see memory grown after they started", () => {
    const jobsBefore = jobCount(multi);
    const big = multi.alloc("float32", 48 * 1024 * 1024); // 192 MB: grows the memory under running workers
    big.fill(1.5);
    multi.unary("square", big, big, big.length, 0);
    assert.equal(big[0], 2.25);
    assert.equal(big[big.length - 1], 2.25);
    assert.equal(big.indexOf(1.5), -1);
    expectThreaded(multi, jobsBefore);
    multi.release(big);
  });

  it("rejects float64 arrays in kernels", () => {
    const x = new Float64Array(4);
    assert.throws(() => single.unary("exp", x, x, 4, 0), /float32 only/);
  });
});

describe("wasm backend: multiply-add peak loop (for the GEMM benchmark)", () => {
  it("runs the given number of steps of its 12 register chains", () => {
    const peak = wasmMultiplyAddPeak();
    assert.ok(peak, "the kernels are built");
    // 1000 steps move the sum by ~7e-3 (each chain decays towards 1 by 1e-6 of its distance per step)
    for (const iterations of [0, 1000, 5000]) {
      // chain c starts at 1 + c/10 and steps a = a * 0.999999 + 0.000001; the loop returns lane 0 of their sum
      let sum = 0;
      for (let c = 0; c < 12; c++) {
        let a = Math.fround(1 + c / 10);
        for (let i = 0; i < iterations; i++)
          a = Math.fround(a * Math.fround(0.999999) + Math.fround(0.000001));
        sum += a;
      }
      assert.ok(
        Math.abs(peak(iterations) - sum) < 1e-4,
        `${iterations} steps: ${peak(iterations)} vs ${sum}`,
      );
    }
  });
});

describe("wasm backend: gemm", () => {
  const sizes = [1, 2, 7, 17, 64, 129];

  function gemmCase(
    b: Backend,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
    opts: {
      batch?: number;
      strideA?: number;
      strideB?: number;
      strideC?: number;
      alpha?: number;
      beta?: number;
      plain?: boolean;
      bias?: boolean;
    } = {},
  ) {
    const batch = opts.batch ?? 1;
    const strideA = opts.strideA ?? m * k;
    const strideB = opts.strideB ?? k * n;
    const strideC = opts.strideC ?? m * n;
    const alpha = opts.alpha ?? 1;
    const beta = opts.beta ?? 0;
    const aOffset = 3;
    const bOffset = 5;
    const cOffset = 2;
    const seed = m * 1000003 + n * 1009 + k * 7 + (transA ? 1 : 0) + (transB ? 2 : 0);
    const a = randomArray(b, aOffset + (batch - 1) * strideA + m * k, seed, -1, 1, opts.plain);
    const bm = randomArray(b, bOffset + (batch - 1) * strideB + k * n, seed + 1, -1, 1, opts.plain);
    const c = randomArray(b, cOffset + (batch - 1) * strideC + m * n, seed + 2, -1, 1, opts.plain);
    if (beta === 0) c.fill(Number.NaN, cOffset); // beta 0 must ignore what C held
    const expected = Float32Array.from(c);
    const args = {
      batch,
      m,
      n,
      k,
      aOffset,
      strideA,
      transA,
      bOffset,
      strideB,
      transB,
      cOffset,
      strideC,
      alpha,
      beta,
    };
    ref.gemm({ ...args, a: Float32Array.from(a), b: Float32Array.from(bm), c: expected });
    const bias = opts.bias ? randomArray(b, n, seed + 3, -1, 1, true) : null;
    if (bias) {
      for (let bi = 0; bi < batch; bi++)
        for (let i = 0; i < m * n; i++) expected[cOffset + bi * strideC + i] += bias[i % n];
    }
    b.gemm({ ...args, a, b: bm, c, bias });
    assertClose(c, expected, 1e-4, 2e-5 * Math.sqrt(k), `gemm m${m} n${n} k${k} tA${transA} tB${transB}`);
    if (!opts.plain) {
      b.release(a);
      b.release(bm);
      b.release(c);
    }
  }

  it("matches the reference for every size and transpose combination (1 thread)", () => {
    for (const m of sizes)
      for (const n of sizes)
        for (const k of sizes)
          for (const transA of [false, true])
            for (const transB of [false, true]) gemmCase(single, m, n, k, transA, transB);
  });

  it("handles alpha, beta, batch strides and broadcast (stride 0) operands", () => {
    for (const [name, b] of backends) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          gemmCase(b, 17, 33, 29, transA, transB, { alpha: 0.5, beta: 1.5 });
          gemmCase(b, 7, 9, 130, transA, transB, { batch: 3, alpha: -2, beta: 0.25 });
          gemmCase(b, 65, 40, 17, transA, transB, { batch: 4, strideA: 0 });
          gemmCase(b, 64, 40, 300, transA, transB, { batch: 2, strideB: 0, beta: 1 });
          gemmCase(b, 65, 40, 17, transA, transB, { batch: 2, alpha: 0.5, bias: true });
        }
      }
      assert.ok(name);
    }
  });

  it("matches the reference under other blockings (odd k slices, small tiles, A-panel-outer order)", () => {
    for (const gemmTuning of [
      { kc: 37, tileM: 12, tileN: 24, aOuter: true },
      { kc: 512, tileM: 256, tileN: 512, aOuter: false },
      { kc: 8, tileM: 4, tileN: 8, aOuter: true, noSmallM: true },
    ]) {
      for (const threads of [1, 2]) {
        const b = createWasmBackend({ threads, gemmTuning });
        assert.ok(b, "wasm backend failed to load");
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            gemmCase(b, 29, 45, 81, transA, transB, { alpha: 1.5, beta: 0.5 });
            gemmCase(b, 130, 70, 600, transA, transB, { batch: 2 });
            gemmCase(b, 1, 17, 7, transA, transB);
          }
        }
      }
    }
  });

  it("k = 0 scales C by beta", () => {
    const c = randomArray(single, 12, 3);
    const expected = Float32Array.from(c, (v) => v * 0.5);
    single.gemm({
      batch: 1,
      m: 3,
      n: 4,
      k: 0,
      a: single.alloc("float32", 1),
      aOffset: 0,
      strideA: 0,
      transA: false,
      b: single.alloc("float32", 1),
      bOffset: 0,
      strideB: 0,
      transB: false,
      c,
      cOffset: 0,
      strideC: 0,
      alpha: 1,
      beta: 0.5,
    });
    assertClose(c, expected, 0, 0, "k=0");
  });

  it("runs large products on several threads (all transposes) and plain arrays", () => {
    const jobsBefore = jobCount(multi);
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        gemmCase(multi, 200, 300, 150, transA, transB);
        gemmCase(multi, 129, 257, 300, transA, transB, { batch: 2, alpha: 0.7, beta: 0.3 });
        gemmCase(multi, 1, 3001, 700, transA, transB, { alpha: 0.5, beta: 2 }); // few rows: streams B
        gemmCase(multi, 3, 1000, 513, transA, transB, { batch: 2, strideA: 0 });
      }
    }
    gemmCase(multi, 64, 520, 600, false, true, { batch: 1 });
    // batch entries sharing C: stride 0 with beta 1 sums the products over the batch, in order
    gemmCase(multi, 100, 90, 80, true, false, { batch: 3, strideC: 0, beta: 1 });
    gemmCase(multi, 16, 16, 20000, false, false, { batch: 8, strideC: 0, beta: 1 }); // one tile per entry
    gemmCase(multi, 2, 900, 800, false, true, { batch: 3, strideC: 0, beta: 1, alpha: 0.5 });
    gemmCase(single, 9, 7, 5, false, false, { batch: 4, strideC: 0, beta: 0.5 });
    gemmCase(multi, 33, 70, 90, true, false, { plain: true, beta: 1 });
    gemmCase(single, 3, 5, 7, false, false, { plain: true });
    expectThreaded(multi, jobsBefore);
  });

  it("refuses operands that reach past their arrays", () => {
    const a = single.alloc("float32", 5);
    assert.throws(
      () =>
        single.gemm({
          batch: 1,
          m: 2,
          n: 2,
          k: 3,
          a,
          aOffset: 0,
          strideA: 0,
          transA: false,
          b: a,
          bOffset: 0,
          strideB: 0,
          transB: false,
          c: a,
          cOffset: 0,
          strideC: 0,
          alpha: 1,
          beta: 0,
        }),
      /reaches past/,
    );
  });
});

describe("wasm backend: element-wise", () => {
  const unaryOps: [UnaryOp, number, number, number][] = [
    // op, lo, hi, alpha
    ["neg", -3, 3, 0],
    ["exp", -20, 20, 0],
    ["log", 1e-3, 50, 0],
    ["sqrt", 0, 9, 0],
    ["rsqrt", 0.01, 9, 0],
    ["tanh", -6, 6, 0],
    ["sigmoid", -12, 12, 0],
    ["relu", -3, 3, 0],
    ["gelu", -6, 6, 0],
    ["geluTanh", -6, 6, 0],
    ["silu", -10, 10, 0],
    ["abs", -3, 3, 0],
    ["square", -3, 3, 0],
    ["scale", -3, 3, 1.7],
    ["shift", -3, 3, -0.3],
    ["pow", 0.1, 3, 2.5],
    ["rdiv", 0.2, 3, 1.5],
  ];

  for (const [name, b] of backends) {
    it(`unary and unaryBackward match the reference (${name})`, () => {
      const jobsBefore = jobCount(b);
      for (const n of [1, 3, 4, 7, 33, 300007]) {
        if (b === single && n > 1000) continue;
        if (b === multi && n < 1000) continue;
        for (const [op, lo, hi, alpha] of unaryOps) {
          const x = randomArray(b, n, n + op.length, lo, hi);
          const out = b.alloc("float32", n);
          const expected = new Float32Array(n);
          ref.unary(op, x, expected, n, alpha);
          b.unary(op, x, out, n, alpha);
          assertClose(out, expected, 3e-6, 1e-7, `${op} n=${n}`);
          const dy = randomArray(b, n, n + 17, -1, 1);
          const dx = b.alloc("float32", n);
          const expectedDx = new Float32Array(n);
          ref.unaryBackward(op, x, expected, dy, expectedDx, n, alpha);
          b.unaryBackward(op, x, expected.slice(), dy, dx, n, alpha);
          assertClose(dx, expectedDx, 1e-5, 1e-6, `${op} backward n=${n}`);
          for (const arr of [x, out, dy, dx]) b.release(arr);
        }
      }
      expectThreaded(b, jobsBefore);
    });
  }

  it("special values: exp/log/tanh/sigmoid at the edges", () => {
    const x = single.alloc("float32", 8);
    x.set([0, -0, 100, -100, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN, 1e-30]);
    const out = single.alloc("float32", 8);
    for (const op of ["exp", "log", "tanh", "sigmoid", "gelu", "silu"] as UnaryOp[]) {
      const expected = new Float32Array(8);
      ref.unary(op, x, expected, 8, 0);
      single.unary(op, x, out, 8, 0);
      assertClose(out, expected, 3e-6, 1e-30, `${op} special`);
    }
  });

  const binaryOps: BinaryOp[] = ["add", "sub", "mul", "div", "pow", "max", "min", "eq", "gt", "lt"];
  const layouts: { shape: number[]; a: number[]; b: number[]; sizeA: number; sizeB: number }[] = [
    { shape: [7], a: [1], b: [1], sizeA: 7, sizeB: 7 },
    { shape: [5, 13], a: [13, 1], b: [0, 1], sizeA: 65, sizeB: 13 }, // last-dim broadcast
    { shape: [5, 13], a: [13, 1], b: [1, 0], sizeA: 65, sizeB: 5 }, // column broadcast
    { shape: [5, 13], a: [0, 0], b: [13, 1], sizeA: 1, sizeB: 65 }, // scalar
    { shape: [3, 4, 5], a: [1, 3, 12], b: [20, 5, 1], sizeA: 60, sizeB: 60 }, // permuted
    { shape: [2, 1, 3, 1, 9], a: [27, 0, 9, 0, 1], b: [0, 0, 1, 0, 3], sizeA: 54, sizeB: 27 },
    { shape: [1], a: [0], b: [0], sizeA: 1, sizeB: 1 },
    { shape: [300, 1001], a: [1001, 1], b: [0, 1], sizeA: 300301, sizeB: 1001 }, // large: threads
  ];

  for (const [name, b] of backends) {
    it(`binary and where with broadcast strides match the reference (${name})`, () => {
      const jobsBefore = jobCount(b);
      for (const layout of layouts) {
        const total = layout.shape.reduce((p, d) => p * d, 1);
        for (const op of binaryOps) {
          const a = randomArray(b, layout.sizeA, total + 1, op === "pow" ? 0.1 : -2, 2);
          const bb = randomArray(b, layout.sizeB, total + 2, -2, 2);
          if (op === "eq") for (let i = 0; i < Math.min(a.length, bb.length); i += 3) a[i] = bb[i];
          const out = b.alloc("float32", total);
          const expected = new Float32Array(total);
          ref.binary(op, a, layout.a, bb, layout.b, expected, layout.shape);
          b.binary(op, a, layout.a, bb, layout.b, out, layout.shape);
          assertClose(out, expected, 3e-6, 1e-7, `${op} ${layout.shape}`);
          for (const arr of [a, bb, out]) b.release(arr);
        }
        const cond = b.alloc("int32", layout.sizeA);
        const condF = randomArray(b, layout.sizeA, 5);
        for (let i = 0; i < cond.length; i++) cond[i] = i % 3 === 0 ? 1 : 0;
        const x = randomArray(b, layout.sizeB, 6);
        const y = randomArray(b, layout.sizeA, 7);
        const out = b.alloc("float32", total);
        const expected = new Float32Array(total);
        for (const c of [cond, condF.map((v) => (v > 0 ? v : 0))]) {
          ref.where(c, layout.a, x, layout.b, y, layout.a, expected, layout.shape);
          b.where(c, layout.a, x, layout.b, y, layout.a, out, layout.shape);
          assertClose(out, expected, 0, 0, `where ${layout.shape}`);
        }
      }
      expectThreaded(b, jobsBefore);
    });
  }

  it("layouts with more than 8 axes left after merging take the fallback path", () => {
    const shape = [2, 2, 2, 2, 2, 2, 2, 2, 2];
    const reversed = shape.map((_, axis) => 2 ** axis); // fully transposed: no two axes merge
    const contiguous = shape.map((_, axis) => 2 ** (shape.length - 1 - axis));
    const a = randomArray(single, 512, 1);
    const bb = randomArray(single, 512, 2);
    const out = single.alloc("float32", 512);
    const expected = new Float32Array(512);
    ref.binary("sub", a, reversed, bb, contiguous, expected, shape);
    single.binary("sub", a, reversed, bb, contiguous, out, shape);
    assertClose(out, expected, 0, 0, "binary rank 9");
    ref.where(a, contiguous, a, reversed, bb, contiguous, expected, shape);
    single.where(a, contiguous, a, reversed, bb, contiguous, out, shape);
    assertClose(out, expected, 0, 0, "where rank 9");
    ref.copyStrided(a, 0, reversed, expected, 0, contiguous, shape);
    single.copyStrided(a, 0, reversed, out, 0, contiguous, shape);
    assertClose(out, expected, 0, 0, "copy rank 9");
  });

  it("binary on plain arrays, in place", () => {
    const a = randomArray(single, 37, 1, -1, 1, true);
    const bb = randomArray(single, 37, 2, -1, 1, true);
    const expected = new Float32Array(37);
    ref.binary("mul", a, [1], bb, [1], expected, [37]);
    single.binary("mul", a, [1], bb, [1], a, [37]);
    assertClose(a, expected, 0, 0, "in-place plain mul");
  });

  for (const [name, b] of backends) {
    it(`reduce, argmax, sumSquares (${name})`, () => {
      const jobsBefore = jobCount(b);
      const shapes: [number, number, number][] =
        b === single
          ? [
              [1, 1, 1],
              [3, 7, 1],
              [2, 5, 3],
              [4, 1, 9],
              [1, 33, 6],
              [5, 129, 1],
            ]
          : [
              [300, 1000, 1],
              [60, 100, 70],
            ];
      for (const [outer, size, inner] of shapes) {
        const x = randomArray(b, outer * size * inner, outer + size + inner);
        for (const op of ["sum", "max"] as const) {
          const out = b.alloc("float32", outer * inner);
          const expected = new Float32Array(outer * inner);
          ref.reduce(op, x, expected, outer, size, inner);
          b.reduce(op, x, out, outer, size, inner);
          assertClose(out, expected, 1e-5, 1e-5 * Math.sqrt(size), `reduce ${op} ${outer}x${size}x${inner}`);
        }
        const idx = b.alloc("int32", outer * inner);
        const expectedIdx = new Int32Array(outer * inner);
        ref.argmax(x, expectedIdx, outer, size, inner);
        b.argmax(x, idx, outer, size, inner);
        assert.deepEqual(Array.from(idx), Array.from(expectedIdx));
        const n = x.length;
        const expectedSq = ref.sumSquares(x, n);
        assert.ok(Math.abs(b.sumSquares(x, n) - expectedSq) <= 1e-6 * expectedSq + 1e-12, "sumSquares");
      }
      expectThreaded(b, jobsBefore);
    });
  }

  it("argmax keeps the first of equal maxima", () => {
    const x = single.alloc("float32", 6);
    x.set([1, 3, 3, 2, 5, 5]);
    const idx = single.alloc("int32", 2);
    single.argmax(x, idx, 2, 3, 1);
    assert.deepEqual(Array.from(idx), [1, 1]);
  });

  for (const [name, b] of backends) {
    it(`copyStrided and fill (${name})`, () => {
      const jobsBefore = jobCount(b);
      const cases: { shape: number[]; src: number[]; dst: number[]; srcSize: number; dstSize: number }[] = [
        { shape: [4, 6], src: [1, 4], dst: [6, 1], srcSize: 24, dstSize: 24 }, // transpose
        { shape: [3, 5], src: [5, 1], dst: [8, 1], srcSize: 15, dstSize: 24 }, // into a wider row (concat)
        { shape: [2, 3, 4], src: [0, 4, 1], dst: [12, 4, 1], srcSize: 12, dstSize: 24 }, // expand
        { shape: [7], src: [2], dst: [1], srcSize: 14, dstSize: 7 }, // slice with step
        { shape: [600, 700], src: [1, 600], dst: [700, 1], srcSize: 420000, dstSize: 420000 }, // big transpose
      ];
      for (const c of cases) {
        const src = randomArray(b, c.srcSize + 3, 9);
        const dst = b.alloc("float32", c.dstSize + 2);
        const expected = new Float32Array(c.dstSize + 2);
        ref.copyStrided(src, 3, c.src, expected, 2, c.dst, c.shape);
        b.copyStrided(src, 3, c.src, dst, 2, c.dst, c.shape);
        assertClose(dst, expected, 0, 0, `copy ${c.shape}`);
        const srcI = b.alloc("int32", c.srcSize + 3);
        for (let i = 0; i < srcI.length; i++) srcI[i] = i * 7 - 5;
        const dstI = b.alloc("int32", c.dstSize + 2);
        const expectedI = new Int32Array(c.dstSize + 2);
        ref.copyStrided(srcI, 3, c.src, expectedI, 2, c.dst, c.shape);
        b.copyStrided(srcI, 3, c.src, dstI, 2, c.dst, c.shape);
        assert.deepEqual(Array.from(dstI), Array.from(expectedI));
      }
      const f = b.alloc("float32", 2000003);
      b.fill(f, 2.5, 3, 2000000);
      assert.equal(f[2], 0);
      assert.equal(f[3], 2.5);
      assert.equal(f[2000002], 2.5);
      assert.equal(f.indexOf(0, 3), -1);
      const iarr = b.alloc("int32", 11);
      b.fill(iarr, -7, 1, 9);
      assert.deepEqual(Array.from(iarr), [0, -7, -7, -7, -7, -7, -7, -7, -7, -7, 0]);
      const plain = new Float32Array(5);
      b.fill(plain, 1.25, 1, 3);
      assert.deepEqual(Array.from(plain), [0, 1.25, 1.25, 1.25, 0]);
      expectThreaded(b, jobsBefore);
    });
  }
});

describe("wasm backend: row kernels", () => {
  for (const [name, b] of backends) {
    const shapes: [number, number][] =
      b === single
        ? [
            [1, 1],
            [1, 7],
            [3, 4],
            [5, 33],
            [2, 129],
          ]
        : [
            [400, 257],
            [64, 768],
            [1000, 300],
          ];

    it(`softmax and log-softmax forward and backward (${name})`, () => {
      const jobsBefore = jobCount(b);
      for (const [rows, cols] of shapes) {
        const x = randomArray(b, rows * cols, rows + cols, -8, 8);
        const dy = randomArray(b, rows * cols, rows * cols + 1);
        for (const log of [false, true]) {
          const out = b.alloc("float32", rows * cols);
          const expected = new Float32Array(rows * cols);
          if (log) {
            ref.logSoftmax(x, expected, rows, cols);
            b.logSoftmax(x, out, rows, cols);
          } else {
            ref.softmax(x, expected, rows, cols);
            b.softmax(x, out, rows, cols);
          }
          assertClose(out, expected, 1e-5, 1e-6, `${log ? "log" : ""}softmax ${rows}x${cols}`);
          const dx = b.alloc("float32", rows * cols);
          const expectedDx = new Float32Array(rows * cols);
          if (log) {
            ref.logSoftmaxBackward(expected, dy, expectedDx, rows, cols);
            b.logSoftmaxBackward(expected, dy, dx, rows, cols);
          } else {
            ref.softmaxBackward(expected, dy, expectedDx, rows, cols);
            b.softmaxBackward(expected, dy, dx, rows, cols);
          }
          assertClose(dx, expectedDx, 1e-4, 1e-5, `${log ? "log" : ""}softmax backward ${rows}x${cols}`);
        }
      }
      expectThreaded(b, jobsBefore);
    });

    it(`layer norm and RMS norm forward and backward (${name})`, () => {
      const jobsBefore = jobCount(b);
      for (const [rows, cols] of shapes) {
        const x = randomArray(b, rows * cols, rows + 2 * cols, -2, 3);
        const dy = randomArray(b, rows * cols, rows + 3 * cols);
        const w = randomArray(b, cols, cols + 1, 0.5, 1.5);
        const bias = randomArray(b, cols, cols + 2);
        for (const withParams of [true, false]) {
          const wOrNull = withParams ? w : null;
          const bOrNull = withParams ? bias : null;
          const out = b.alloc("float32", rows * cols);
          const mean = b.alloc("float32", rows);
          const rstd = b.alloc("float32", rows);
          const e = {
            out: new Float32Array(rows * cols),
            mean: new Float32Array(rows),
            rstd: new Float32Array(rows),
          };
          ref.layerNorm(x, wOrNull, bOrNull, e.out, e.mean, e.rstd, rows, cols, 1e-5);
          b.layerNorm(x, wOrNull, bOrNull, out, mean, rstd, rows, cols, 1e-5);
          assertClose(out, e.out, 1e-4, 1e-5, "layerNorm out");
          assertClose(mean, e.mean, 1e-5, 1e-6, "layerNorm mean");
          assertClose(rstd, e.rstd, 1e-4, 1e-6, "layerNorm rstd");
          const dx = b.alloc("float32", rows * cols);
          const dw = b.alloc("float32", cols);
          const db = b.alloc("float32", cols);
          dw.fill(9);
          db.fill(9);
          const g = {
            dx: new Float32Array(rows * cols),
            dw: new Float32Array(cols),
            db: new Float32Array(cols),
          };
          ref.layerNormBackward(dy, x, wOrNull, e.mean, e.rstd, g.dx, g.dw, g.db, rows, cols);
          b.layerNormBackward(dy, x, wOrNull, e.mean, e.rstd, dx, dw, db, rows, cols);
          assertClose(dx, g.dx, 1e-3, 1e-4, "layerNorm dx");
          assertClose(dw, g.dw, 1e-4, 1e-4 * Math.sqrt(rows), "layerNorm dw");
          assertClose(db, g.db, 1e-4, 1e-4 * Math.sqrt(rows), "layerNorm db");
          b.layerNormBackward(dy, x, wOrNull, e.mean, e.rstd, dx, null, null, rows, cols);
          assertClose(dx, g.dx, 1e-3, 1e-4, "layerNorm dx without dw/db");

          const rs = b.alloc("float32", rows);
          const er = { out: new Float32Array(rows * cols), rstd: new Float32Array(rows) };
          ref.rmsNorm(x, wOrNull, er.out, er.rstd, rows, cols, 1e-6);
          b.rmsNorm(x, wOrNull, out, rs, rows, cols, 1e-6);
          assertClose(out, er.out, 1e-4, 1e-5, "rmsNorm out");
          assertClose(rs, er.rstd, 1e-5, 1e-6, "rmsNorm rstd");
          ref.rmsNormBackward(dy, x, wOrNull, er.rstd, g.dx, g.dw, rows, cols);
          b.rmsNormBackward(dy, x, wOrNull, er.rstd, dx, dw, rows, cols);
          assertClose(dx, g.dx, 1e-3, 1e-4, "rmsNorm dx");
          assertClose(dw, g.dw, 1e-4, 1e-4 * Math.sqrt(rows), "rmsNorm dw");
        }
      }
      expectThreaded(b, jobsBefore);
    });

    it(`cross-entropy forward and backward, ignored targets (${name})`, () => {
      const jobsBefore = jobCount(b);
      for (const [rows, cols] of shapes) {
        const logits = randomArray(b, rows * cols, rows * 3 + cols, -5, 5);
        const targets = b.alloc("int32", rows);
        const next = rng(rows + cols);
        for (let r = 0; r < rows; r++) targets[r] = r % 4 === 3 ? -100 : Math.floor(next() * cols);
        const losses = b.alloc("float32", rows);
        const lse = b.alloc("float32", rows);
        const e = { losses: new Float32Array(rows), lse: new Float32Array(rows) };
        ref.crossEntropy(logits, targets, e.losses, e.lse, rows, cols, -100);
        b.crossEntropy(logits, targets, losses, lse, rows, cols, -100);
        assertClose(losses, e.losses, 1e-5, 1e-5, "ce losses");
        assertClose(lse, e.lse, 1e-5, 1e-5, "ce lse");
        const dLoss = randomArray(b, rows, 77, 0.1, 2);
        const d = b.alloc("float32", rows * cols);
        d.fill(5);
        const ed = new Float32Array(rows * cols);
        ref.crossEntropyBackward(logits, targets, e.lse, dLoss, ed, rows, cols, -100);
        b.crossEntropyBackward(logits, targets, e.lse, dLoss, d, rows, cols, -100);
        assertClose(d, ed, 1e-4, 1e-6, "ce backward");
      }
      expectThreaded(b, jobsBefore);
    });

    it(`gatherRows and scatterAddRows with repeated and skipped ids (${name})`, () => {
      const jobsBefore = jobCount(b);
      const [count, cols] = b === single ? [9, 7] : [3000, 130];
      const vocab = 11;
      const table = randomArray(b, vocab * cols, 3);
      const ids = b.alloc("int32", count);
      for (let i = 0; i < count; i++) ids[i] = (i * 7) % vocab;
      const out = b.alloc("float32", count * cols);
      const expected = new Float32Array(count * cols);
      ref.gatherRows(table, ids, expected, cols);
      b.gatherRows(table, ids, out, cols);
      assertClose(out, expected, 0, 0, "gatherRows");
      const dTable = randomArray(b, vocab * cols, 4);
      const expectedTable = Float32Array.from(dTable);
      ref.scatterAddRows(out, ids, expectedTable, cols, 3);
      b.scatterAddRows(out, ids, dTable, cols, 3);
      assertClose(dTable, expectedTable, 1e-5, 1e-5, "scatterAddRows");
      expectThreaded(b, jobsBefore);
    });

    it(`rope forward and inverse (${name})`, () => {
      const jobsBefore = jobCount(b);
      const [batch, heads, seq, headDim] = b === single ? [2, 3, 5, 6] : [2, 8, 128, 64];
      for (const dim of [headDim, 2, 16]) {
        const n = batch * heads * seq * dim;
        const x = randomArray(b, n, dim + 5);
        const positions = b.alloc("int32", batch * seq);
        for (let i = 0; i < positions.length; i++) positions[i] = (i * 37) % 5000;
        const invFreq = new Float64Array(dim / 2);
        for (let i = 0; i < dim / 2; i++) invFreq[i] = 1 / 10000 ** ((2 * i) / dim);
        for (const inverse of [false, true]) {
          const out = b.alloc("float32", n);
          const expected = new Float32Array(n);
          ref.rope(x, expected, positions, invFreq, batch, heads, seq, dim, inverse);
          b.rope(x, out, positions, invFreq, batch, heads, seq, dim, inverse);
          assertClose(out, expected, 1e-5, 1e-6, `rope dim ${dim} inverse ${inverse}`);
          const inPlace = copyOf(b, x);
          b.rope(inPlace, inPlace, positions, invFreq, batch, heads, seq, dim, inverse);
          assertClose(inPlace, expected, 1e-5, 1e-6, "rope in place");
        }
      }
      expectThreaded(b, jobsBefore);
    });
  }
});

describe("wasm backend: attention", () => {
  type Case = {
    batch: number;
    heads: number;
    kvHeads: number;
    tq: number;
    tk: number;
    headDim: number;
    causal: boolean;
    causalOffset: number;
    bias: boolean;
  };
  const small: Case[] = [
    { batch: 1, heads: 1, kvHeads: 1, tq: 1, tk: 1, headDim: 1, causal: false, causalOffset: 0, bias: false },
    { batch: 2, heads: 4, kvHeads: 2, tq: 5, tk: 5, headDim: 7, causal: true, causalOffset: 0, bias: false },
    { batch: 2, heads: 3, kvHeads: 3, tq: 3, tk: 9, headDim: 8, causal: true, causalOffset: 6, bias: true },
    { batch: 1, heads: 6, kvHeads: 1, tq: 4, tk: 4, headDim: 5, causal: false, causalOffset: 0, bias: true },
  ];
  const large: Case[] = [
    {
      batch: 2,
      heads: 8,
      kvHeads: 2,
      tq: 64,
      tk: 64,
      headDim: 32,
      causal: true,
      causalOffset: 0,
      bias: false,
    },
    {
      batch: 2,
      heads: 4,
      kvHeads: 4,
      tq: 40,
      tk: 70,
      headDim: 64,
      causal: false,
      causalOffset: 0,
      bias: true,
    },
  ];

  for (const [name, b] of backends) {
    it(`forward and backward match the reference (GQA, causal offset, key bias) (${name})`, () => {
      const jobsBefore = jobCount(b);
      for (const c of b === single ? small : large) {
        const qn = c.batch * c.heads * c.tq * c.headDim;
        const kn = c.batch * c.kvHeads * c.tk * c.headDim;
        const q = randomArray(b, qn, 1);
        const k = randomArray(b, kn, 2);
        const v = randomArray(b, kn, 3);
        let keyBias: Float32Array | null = null;
        if (c.bias) {
          keyBias = b.alloc("float32", c.batch * c.tk);
          for (let i = 0; i < keyBias.length; i++) keyBias[i] = i % 5 === 4 ? -1e9 : 0;
        }
        const scale = 1 / Math.sqrt(c.headDim);
        const pn = c.batch * c.heads * c.tq * c.tk;
        const out = b.alloc("float32", qn);
        const probs = b.alloc("float32", pn);
        const e = { out: new Float32Array(qn), probs: new Float32Array(pn) };
        const common = { ...c, scale, q, k, v, keyBias };
        ref.attention({ ...common, out: e.out, probs: e.probs });
        b.attention({ ...common, out, probs });
        assertClose(probs, e.probs, 1e-5, 1e-6, "attention probs");
        assertClose(out, e.out, 1e-4, 1e-5, "attention out");

        const dOut = randomArray(b, qn, 4);
        const g = { dq: new Float32Array(qn), dk: new Float32Array(kn), dv: new Float32Array(kn) };
        const dq = randomArray(b, qn, 5);
        const dk = randomArray(b, kn, 6);
        const dv = randomArray(b, kn, 7);
        const back = { ...c, scale, q, k, v, probs: e.probs, dOut };
        ref.attentionBackward({ ...back, dq: g.dq, dk: g.dk, dv: g.dv });
        b.attentionBackward({ ...back, dq, dk, dv });
        assertClose(dq, g.dq, 1e-4, 1e-5, "attention dq");
        assertClose(dk, g.dk, 1e-4, 1e-5, "attention dk");
        assertClose(dv, g.dv, 1e-4, 1e-5, "attention dv");
      }
      expectThreaded(b, jobsBefore);
    });
  }
});

describe("wasm backend: optimizer", () => {
  for (const [name, b] of backends) {
    it(`adamw matches the reference (${name})`, () => {
      const jobsBefore = jobCount(b);
      for (const n of b === single ? [1, 5, 37] : [300001]) {
        const param = randomArray(b, n, 1);
        const grad = randomArray(b, n, 2);
        const m = randomArray(b, n, 3, -0.1, 0.1);
        const v = randomArray(b, n, 4, 0, 0.01);
        const e = { param: Float32Array.from(param), m: Float32Array.from(m), v: Float32Array.from(v) };
        const hyper = { beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 7 };
        const group = { n, lr: 1e-3, weightDecay: 0.01 };
        ref.adamw([{ ...group, param: e.param, grad, m: e.m, v: e.v }], hyper);
        b.adamw([{ ...group, param, grad, m, v }], hyper);
        assertClose(param, e.param, 1e-6, 1e-7, "adamw param");
        assertClose(m, e.m, 1e-6, 1e-7, "adamw m");
        assertClose(v, e.v, 1e-6, 1e-9, "adamw v");
      }
      expectThreaded(b, jobsBefore);
    });
  }
});

/** Runs an ES module script in a fresh Node process with extra environment; returns the JSON it printed. */
function runModuleScript(script: string, env: Record<string, string>): unknown {
  const output = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
    env: { ...process.env, ...env },
    timeout: 30000,
    cwd: fileURLToPath(new URL(".", import.meta.url)),
  }).toString();
  return JSON.parse(output);
}

describe("wasm backend: process-wide instance and ADAPTLM_THREADS", () => {
  it("loadWasmBackend returns one shared backend", () => {
    const a = loadWasmBackend();
    assert.ok(a, "wasm/adaptlm_kernels.wasm is missing: run `npm run build:wasm`");
    assert.equal(loadWasmBackend(), a);
  });

  it("ADAPTLM_THREADS sets the thread count, and worker threads do not keep the process alive", () => {
    const moduleUrl = new URL("../../src/backend/wasm.js", import.meta.url).href;
    const script = `
      const { loadWasmBackend } = await import(${JSON.stringify(moduleUrl)});
      const b = loadWasmBackend();
      const n = 1 << 20;
      const x = b.alloc("float32", n);
      x.fill(1);
      b.unary("exp", x, x, n, 0);
      process.stdout.write(JSON.stringify({ threads: b.threads, value: x[n - 1] }));
    `;
    for (const threads of ["1", "2"]) {
      const result = runModuleScript(script, { ADAPTLM_THREADS: threads }) as {
        threads: number;
        value: number;
      };
      assert.equal(result.threads, Number(threads));
      assert.ok(Math.abs(result.value - Math.E) < 1e-6);
    }
  });
});

describe("wasm backend: the two kernel builds", () => {
  it("runs the relaxed-SIMD build (fused multiply-add) where it compiles, which is always on Node >= 20", () => {
    assert.equal(wasmKernelBuild(), "relaxed-simd");
  });

  it("ADAPTLM_WASM_RELAXED=0 runs the baseline SIMD build, and both builds compute the same GEMMs", () => {
    const moduleUrl = new URL("../../src/backend/wasm.js", import.meta.url).href;
    // Seeded inputs; each build's products are compared with a float64 sum, on shapes that cover full
    // micro-kernel blocks, edges, both transposes, k slices and a split over threads.
    const script = `
      const { createWasmBackend, wasmKernelBuild } = await import(${JSON.stringify(moduleUrl)});
      const b = createWasmBackend({ threads: 2 });
      let seed = 7;
      const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296) * 2 - 1;
      let worst = 0;
      for (const [m, n, k, transA, transB] of [[37, 45, 600, false, false], [64, 200, 130, true, true], [5, 9, 3, false, true], [160, 96, 77, true, false]]) {
        const a = new Float32Array(m * k).map(next), bm = new Float32Array(k * n).map(next);
        const c = new Float32Array(m * n);
        b.gemm({ batch: 1, m, n, k, a, aOffset: 0, strideA: 0, transA, b: bm, bOffset: 0, strideB: 0, transB, c, cOffset: 0, strideC: 0, alpha: 1, beta: 0 });
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            let s = 0;
            for (let p = 0; p < k; p++) s += a[transA ? p * m + i : i * k + p] * bm[transB ? j * k + p : p * n + j];
            worst = Math.max(worst, Math.abs(s - c[i * n + j]) / (k + 2));
          }
      }
      process.stdout.write(JSON.stringify({ build: wasmKernelBuild(), worst }));
    `;
    for (const [relaxed, build] of [
      ["0", "simd"],
      ["1", "relaxed-simd"],
    ]) {
      const result = runModuleScript(script, { ADAPTLM_WASM_RELAXED: relaxed }) as {
        build: string;
        worst: number;
      };
      assert.equal(result.build, build);
      // float32 rounding of a k-term sum of products of values in [-1, 1]: below ~k * 2^-24 per term
      assert.ok(result.worst < 4e-7, `${build}: error per term ${result.worst}`);
    }
  });
});
