// The wasm GEMM micro-kernel's edges against the reference backend. The kernel runs k in steps of four with
// an exit test after every step, and C in 4 x 8 blocks with partial blocks through an edge buffer, so these
// cases walk every k remainder (alone and as the last of several k slices), every row and column remainder,
// and m = 1..3 forced through the packed path (noSmallM) instead of the small-m path that normally takes it.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Backend } from "../../src/backend/backend.js";
import { referenceBackend as ref } from "../../src/backend/reference.js";
import { createWasmBackend, type GemmTuning } from "../../src/backend/wasm.js";

function backend(threads: number, gemmTuning: GemmTuning = {}): Backend {
  const b = createWasmBackend({ threads, gemmTuning });
  assert.ok(
    b,
    "the wasm backend did not load: wasm/adaptlm_kernels.wasm is missing, run `npm run build:wasm`",
  );
  return b;
}

/** Deterministic values in [-1, 1) that are not all alike (a sign or offset error cannot cancel out). */
function fill(out: Float32Array, seed: number): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = Math.sin(seed * 12.9898 + i * 78.233) * 0.999;
  return out;
}

function check(
  b: Backend,
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  alpha = 1,
  beta = 0,
): void {
  const seed = m * 7919 + n * 104729 + k * 31 + (transA ? 1 : 0) + (transB ? 2 : 0);
  const a = fill(b.alloc("float32", m * k), seed);
  const bm = fill(b.alloc("float32", k * n), seed + 1);
  const c = fill(b.alloc("float32", m * n), seed + 2);
  if (beta === 0) c.fill(Number.NaN); // beta 0 must not read C
  const expected = beta === 0 ? new Float32Array(m * n) : Float32Array.from(c);
  const args = {
    batch: 1,
    m,
    n,
    k,
    aOffset: 0,
    strideA: 0,
    transA,
    bOffset: 0,
    strideB: 0,
    transB,
    cOffset: 0,
    strideC: 0,
    alpha,
    beta,
  };
  ref.gemm({ ...args, a: Float32Array.from(a), b: Float32Array.from(bm), c: expected });
  b.gemm({ ...args, a, b: bm, c });
  const what = `gemm m${m} n${n} k${k} tA${transA} tB${transB} alpha${alpha} beta${beta}`;
  const atol = 2e-5 * Math.sqrt(k + 1);
  for (let i = 0; i < expected.length; i++) {
    const tol = atol + 1e-4 * Math.abs(expected[i]);
    if (!(Math.abs(c[i] - expected[i]) <= tol)) {
      assert.fail(
        `${what}[${i}] (row ${Math.floor(i / n)}, col ${i % n}): got ${c[i]}, expected ${expected[i]}`,
      );
    }
  }
  b.release(a);
  b.release(bm);
  b.release(c);
}

const transposes: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];

describe("wasm gemm micro-kernel edges", () => {
  it("every k remainder mod 4, k = 1..13, through the packed path for m = 1..5", () => {
    const b = backend(1, { noSmallM: true });
    for (let k = 1; k <= 13; k++) {
      for (const m of [1, 2, 3, 4, 5]) {
        for (const [tA, tB] of transposes) check(b, m, 17, k, tA, tB);
      }
    }
  });

  it("k slices whose last slice leaves a remainder (kc 6: 6 + 6 + 1, 6 + 3, ...), accumulating over slices", () => {
    const b = backend(1, { kc: 6, noSmallM: true });
    for (const k of [7, 9, 10, 11, 12, 13, 25]) {
      for (const [tA, tB] of transposes) {
        check(b, 9, 19, k, tA, tB);
        check(b, 8, 16, k, tA, tB, 0.75, 1.25);
      }
    }
  });

  it("issue shapes: M=1 N=17 K=3, M=65 N=130, every row and column remainder of the 4 x 8 block", () => {
    const packed = backend(1, { noSmallM: true });
    const plain = backend(1);
    for (const [tA, tB] of transposes) {
      check(packed, 1, 17, 3, tA, tB);
      check(plain, 1, 17, 3, tA, tB);
      check(packed, 65, 130, 3, tA, tB);
      check(packed, 65, 130, 67, tA, tB, -0.5, 0.5);
    }
    for (let m = 4; m <= 7; m++) {
      for (let n = 8; n <= 15; n++) check(packed, m, n, 5, false, false);
    }
  });

  it("the tile shapes the backend picks on 2 threads, with edges in both directions", () => {
    const b = backend(2);
    for (const [tA, tB] of transposes) {
      check(b, 131, 263, 389, tA, tB);
      check(b, 67, 45, 770, tA, tB, 1, 1);
    }
  });
});
