// sampleRows, the next-token kernel of batched decoding, on every backend: against the reference backend and
// against the JavaScript definition (chooseToken's greedy argmax and inverse-CDF draw, logSoftmax's logsumexp)
// on random shapes with size 1 and odd sizes, masked (-Infinity) logits, ties, several temperatures, 1 and 3
// threads, arrays inside and outside a wasm backend's memory; and the same seeds draw the same tokens as the
// JavaScript path. A missing native addon or wasm file skips that backend (their own test files fail for it).

import assert from "node:assert/strict";
import { test } from "node:test";
import type { Backend } from "../../src/backend/backend.js";
import { loadNativeBackend, type NativeBackend } from "../../src/backend/native.js";
import { referenceBackend as ref } from "../../src/backend/reference.js";
import { createWasmBackend } from "../../src/backend/wasm.js";
import { chooseToken, chooseTokens } from "../../src/models/generate.js";
import * as T from "../../src/tensor/index.js";

const native = loadNativeBackend();
const wasm1 = createWasmBackend({ threads: 1 });
const wasm3 = createWasmBackend({ threads: 3 });
const backends: [string, Backend, number?][] = [["reference", ref]];
if (native) backends.push(["native 1 thread", native, 1], ["native 3 threads", native, 3]);
if (wasm1) backends.push(["wasm 1 thread", wasm1]);
if (wasm3) backends.push(["wasm 3 threads", wasm3]);

const SHAPES: [number, number][] = [
  [1, 1],
  [1, 2],
  [3, 1],
  [1, 7],
  [2, 33],
  [5, 100],
  [7, 257],
  [20, 4096],
  [3, 4099],
];
const TEMPERATURES = [0, 0.3, 0.7, 1, 1.7];

/** Random logits in [-spread, spread) with a few masked entries and a tie at the top of some rows. */
function randomLogits(rows: number, cols: number, seed: number, spread: number): Float32Array {
  const rng = new T.Rng(seed);
  const x = new Float32Array(rows * cols);
  for (let i = 0; i < x.length; i++) x[i] = (2 * rng.next() - 1) * spread;
  for (let r = 0; r < rows; r++) {
    if (cols > 4) x[r * cols + 1 + (r % (cols - 1))] = Number.NEGATIVE_INFINITY;
    if (cols > 8 && r % 2 === 0) {
      x[r * cols + 3] = spread + 1; // a tie for the maximum: argmax takes the first
      x[r * cols + 7] = spread + 1;
    }
  }
  return x;
}

/** logsumexp of one row, as the JavaScript log-softmax computes it. */
function jsLogSumExp(row: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  return max + Math.log(sum);
}

function withThreads(threads: number | undefined, fn: () => void): void {
  if (threads === undefined || !native) {
    fn();
    return;
  }
  const before = native.threads;
  (native as NativeBackend).setThreads(threads);
  try {
    fn();
  } finally {
    (native as NativeBackend).setThreads(before);
  }
}

test("sampleRows equals the JavaScript definition and the reference on every backend", () => {
  let seed = 1;
  for (const [rows, cols] of SHAPES) {
    for (const temperature of TEMPERATURES) {
      for (const spread of [3, 20]) {
        const logits = randomLogits(rows, cols, seed++, spread);
        const uniformRng = new T.Rng(seed++);
        const uniforms = Float64Array.from({ length: rows }, () => uniformRng.next());
        const expectedTokens = new Int32Array(rows);
        for (let r = 0; r < rows; r++) {
          // chooseToken draws rng.next() once when sampling: feed it the same uniform
          const fixed = { next: () => uniforms[r] } as T.Rng;
          expectedTokens[r] = chooseToken(
            logits.subarray(r * cols, (r + 1) * cols),
            { maxNewTokens: 1, temperature },
            fixed,
          );
        }
        const expectedLse = Float64Array.from({ length: rows }, (_, r) =>
          jsLogSumExp(logits.subarray(r * cols, (r + 1) * cols)),
        );
        for (const [name, backend, threads] of backends) {
          for (const inMemory of [false, true]) {
            if (inMemory && backend === ref) continue;
            const label = `${name} ${rows}x${cols} t=${temperature} spread ${spread}${inMemory ? " (backend memory)" : ""}`;
            const input = inMemory ? backend.alloc("float32", rows * cols) : new Float32Array(rows * cols);
            input.set(logits);
            const tokens = new Int32Array(rows).fill(-1);
            const lse = new Float64Array(rows);
            withThreads(threads, () =>
              backend.sampleRows({ logits: input, rows, cols, temperature, uniforms, tokens, lse }),
            );
            assert.deepEqual([...tokens], [...expectedTokens], `${label}: tokens`);
            // native sums float32 exps (see sample_rows in native/kernels.c); the others compute float64 ones
            const tolerance = name.startsWith("native") ? 1e-6 : 1e-14;
            for (let r = 0; r < rows; r++) {
              assert.ok(
                Math.abs(lse[r] - expectedLse[r]) <= tolerance * Math.max(1, Math.abs(expectedLse[r])),
                `${label}: lse[${r}] ${lse[r]} vs ${expectedLse[r]}`,
              );
            }
            if (inMemory) backend.release(input);
          }
        }
      }
    }
  }
});

test("sampleRows: a row of one finite logit among -Infinity always gives that id; empty uniforms when greedy", () => {
  for (const [name, backend, threads] of backends) {
    const cols = 13;
    const logits = new Float32Array(2 * cols).fill(Number.NEGATIVE_INFINITY);
    logits[5] = 2;
    logits[cols + 12] = -3;
    for (const temperature of [0, 0.5, 2]) {
      const tokens = new Int32Array(2);
      const lse = new Float64Array(2);
      const uniforms = new Float64Array(temperature > 0 ? [0.999999, 0.5] : []);
      withThreads(threads, () =>
        backend.sampleRows({ logits, rows: 2, cols, temperature, uniforms, tokens, lse }),
      );
      assert.deepEqual([...tokens], [5, 12], `${name} t=${temperature}`);
      assert.deepEqual([...lse], [2, -3], `${name} t=${temperature}`);
    }
  }
});

test("chooseTokens: fixed seeds draw the tokens chooseToken draws row by row (sampled, greedy, top-k/top-p)", () => {
  const rows = 6;
  const cols = 500;
  const logits = randomLogits(rows, cols, 99, 6);
  for (const options of [
    { maxNewTokens: 1 },
    { maxNewTokens: 1, temperature: 0.8 },
    { maxNewTokens: 1, temperature: 1.3, topK: 40 },
    { maxNewTokens: 1, temperature: 0.9, topP: 0.9 },
  ]) {
    for (const [name, backend, threads] of backends) {
      const seeds = Array.from({ length: rows }, (_, r) => 1000 + r);
      const rngs = seeds.map((s) => new T.Rng(s));
      const oracleRngs = seeds.map((s) => new T.Rng(s));
      // three steps on the same logits: the streams must stay in step too
      for (let step = 0; step < 3; step++) {
        let choices: ReturnType<typeof chooseTokens> | undefined;
        withThreads(threads, () => {
          choices = chooseTokens(backend, logits, cols, options, rngs);
        });
        for (let r = 0; r < rows; r++) {
          const row = logits.subarray(r * cols, (r + 1) * cols);
          const expected = chooseToken(row, options, oracleRngs[r]);
          assert.equal(
            choices?.tokens[r],
            expected,
            `${name} ${JSON.stringify(options)} step ${step} row ${r}`,
          );
          const logprob = row[expected] - jsLogSumExp(row);
          const tolerance = name.startsWith("native") ? 1e-6 : 1e-12; // as in the test above
          assert.ok(Math.abs((choices?.logprobs[r] ?? 0) - logprob) < tolerance, `${name}: logprob`);
        }
      }
    }
  }
});
