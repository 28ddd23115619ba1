// Forward values and error behaviour of the ops (the gradient checks cover the backward passes).

import assert from "node:assert/strict";
import { test } from "node:test";
import { referenceBackend } from "../../src/backend/reference.js";
import { AdaptlmError } from "../../src/errors.js";
import * as T from "../../src/tensor/index.js";

const close = (actual: number[], expected: number[], tolerance = 1e-6) => {
  assert.equal(actual.length, expected.length);
  for (const [i, a] of actual.entries()) {
    assert.ok(Math.abs(a - expected[i]) <= tolerance, `element ${i}: ${a} vs ${expected[i]}`);
  }
};

test("matmul of known matrices, with transposes", () => {
  const a = T.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  const b = T.tensor([7, 8, 9, 10, 11, 12], [3, 2]);
  close(T.matmul(a, b).toArray(), [58, 64, 139, 154]);
  close(
    T.matmul(T.transpose(a), T.transpose(b), { transA: true, transB: true }).toArray(),
    [58, 64, 139, 154],
  );
});

test("GELU forms and SiLU match PyTorch values", () => {
  const x = T.tensor([-1, 0.5, 2]);
  // torch.nn.functional.gelu(x), gelu(x, approximate="tanh"), silu(x)
  close(T.gelu(x).toArray(), [-0.15865525, 0.34573123, 1.95449974], 1e-6);
  close(T.geluTanh(x).toArray(), [-0.15880801, 0.34571401, 1.95459769], 1e-6);
  close(T.silu(x).toArray(), [-0.26894142, 0.31122967, 1.76159416], 1e-6);
});

test("softmax rows sum to 1 and log-softmax is its log", () => {
  const x = T.tensor([1, 2, 3, -1, 0, 1000], [2, 3]);
  const p = T.softmax(x).toArray();
  close([p[0] + p[1] + p[2], p[3] + p[4] + p[5]], [1, 1]);
  const logP = T.logSoftmax(x).toArray();
  close(logP.slice(0, 3), p.slice(0, 3).map(Math.log), 1e-5);
  // Where softmax underflows to 0, log-softmax stays finite.
  close(logP.slice(3), [-1001, -1000, 0], 1e-3);
});

test("layer norm normalises each row", () => {
  const y = T.layerNorm(T.tensor([1, 2, 3, 4, 10, 20, 30, 40], [2, 4]), null, null, 0).toArray();
  close(y.slice(0, 4), [-1.3416408, -0.4472136, 0.4472136, 1.3416408], 1e-5);
  close(y.slice(4), [-1.3416408, -0.4472136, 0.4472136, 1.3416408], 1e-5);
});

test("cross-entropy ignores -100 targets and averages the rest", () => {
  const logits = T.tensor([0, 0, 0, 1, 2, 3], [2, 3]);
  const loss = T.crossEntropy(logits, T.tensor([1, -100], [2], "int32"));
  close([loss.item()], [Math.log(3)]);
  const allIgnored = T.crossEntropy(logits, T.tensor([-100, -100], [2], "int32"));
  assert.equal(allIgnored.item(), 0);
});

test("embedding leaves the padding row without gradient", () => {
  const table = T.tensor([1, 2, 3, 4, 5, 6], [3, 2], "float32").setRequiresGrad();
  const out = T.embedding(table, T.tensor([0, 2, 0], [3], "int32"), 0);
  close(out.toArray(), [1, 2, 5, 6, 1, 2]);
  T.backward(T.sum(out));
  close(table.grad!.toArray(), [0, 0, 0, 0, 1, 1]);
});

test("fused attention equals softmax(q k^T / sqrt(d) + mask) v composed from primitives", () => {
  const rng = new T.Rng(3);
  const make = (shape: number[]) =>
    T.tensor(
      Array.from({ length: shape.reduce((a, b) => a * b) }, () => rng.normal()),
      shape,
    );
  const [q, k, v] = [make([2, 2, 4, 3]), make([2, 2, 4, 3]), make([2, 2, 4, 3])];
  const mask = T.tensor([1, 1, 1, 1, 1, 1, 0, 0], [2, 4], "int32");
  const fused = T.attention(q, k, v, { causal: true, keyBias: T.paddingBias(mask) });
  const scores = T.mulScalar(T.matmul(q, k, { transB: true }), 1 / Math.sqrt(3));
  const bias = T.add(T.reshape(T.paddingBias(mask), [2, 1, 1, 4]), T.causalBias(4, 4));
  const composed = T.matmul(T.softmax(T.add(scores, bias)), v);
  close(fused.toArray(), composed.toArray(), 1e-5);
});

test('attention over token rows ("tokens") equals permuting heads in, attending and permuting back, gradients too', () => {
  const rng = new T.Rng(5);
  const make = (shape: number[]) => {
    const t = T.tensor(
      Array.from({ length: shape.reduce((a, b) => a * b) }, () => rng.normal()),
      shape,
    );
    t.requiresGrad = true;
    return t;
  };
  // q [batch 2, seq 5, heads 4, d 3], k and v with 2 kv heads; padding hides key 4 of batch row 1
  const [q, k, v] = [make([2, 5, 4, 3]), make([2, 5, 2, 3]), make([2, 5, 2, 3])];
  const weights = T.tensor(
    Array.from({ length: 2 * 5 * 4 * 3 }, () => rng.normal()),
    [2, 5, 4, 3],
  );
  const mask = T.tensor([1, 1, 1, 1, 1, 1, 1, 1, 1, 0], [2, 5], "int32");
  const options = { causal: true, keyBias: T.paddingBias(mask) };
  const heads = (x: T.Tensor) => T.permute(x, [0, 2, 1, 3]);
  const viaHeads = heads(T.attention(heads(q), heads(k), heads(v), options));
  T.backward(T.sum(T.mul(viaHeads, weights)));
  const expected = [viaHeads, q.grad!, k.grad!, v.grad!].map((t) => t.toArray());
  for (const t of [q, k, v]) t.grad = null;
  const direct = T.attention(q, k, v, { ...options, layout: "tokens" });
  assert.deepEqual(direct.shape, [2, 5, 4, 3]);
  T.backward(T.sum(T.mul(direct, weights)));
  const actual = [direct, q.grad!, k.grad!, v.grad!].map((t) => t.toArray());
  for (let i = 0; i < 4; i++) close(actual[i], expected[i], 1e-6);
  assert.throws(() => T.attention(q, k, v, { layout: "tokens", keyLength: 3 }), /keyLength or shared/);
  assert.throws(() => T.attention(q, k, v, { layout: "rows" as T.AttentionLayout }), /layout must be/);
});

test("RoPE rotates pairs (i, i + d/2) by position * inv_freq", () => {
  const x = T.tensor([1, 0, 0, 1], [1, 1, 1, 4]);
  const inv = T.ropeInverseFrequencies(4, 10000);
  const y = T.rope(x, T.tensor([2], [1, 1], "int32"), inv).toArray();
  const [a0, a1] = [2 * inv[0], 2 * inv[1]];
  close(y, [Math.cos(a0), -Math.sin(a1), Math.sin(a0), Math.cos(a1)], 1e-6);
});

test("dropout is deterministic for a seed and scales kept elements", () => {
  const x = T.ones([1000]);
  const a = T.dropout(x, 0.25, new T.Rng(11), true).toArray();
  const b = T.dropout(x, 0.25, new T.Rng(11), true).toArray();
  assert.deepEqual(a, b);
  const kept = a.filter((v) => v !== 0);
  assert.ok(kept.every((v) => Math.abs(v - 1 / 0.75) < 1e-6));
  assert.ok(kept.length > 700 && kept.length < 800, `kept ${kept.length} of 1000`);
  assert.deepEqual(T.dropout(x, 0.25, new T.Rng(11), false).toArray(), x.toArray());
});

test("bad input gives typed errors naming the op and the shapes", () => {
  const a = T.zeros([2, 3]);
  const expectError = (fn: () => unknown, code: string, pattern: RegExp) =>
    assert.throws(
      fn,
      (e: unknown) => e instanceof AdaptlmError && e.code === code && pattern.test(e.message),
    );
  expectError(() => T.add(a, T.zeros([4])), "SHAPE_MISMATCH", /add: shapes \[2, 3\] and \[4\]/);
  expectError(() => T.matmul(a, T.zeros([2, 3])), "SHAPE_MISMATCH", /matmul: inner sizes differ/);
  expectError(() => T.embedding(T.zeros([5, 2]), T.tensor([7], [1], "int32")), "INDEX_OUT_OF_RANGE", /id 7/);
  expectError(() => T.embedding(T.zeros([5, 2]), T.zeros([1])), "WRONG_DTYPE", /ids must be int32/);
  expectError(
    () => T.crossEntropy(T.zeros([2, 3]), T.tensor([0, 3], [2], "int32")),
    "INDEX_OUT_OF_RANGE",
    /target 3/,
  );
  expectError(
    () => T.crossEntropy(T.tensor([Number.NaN, 0], [1, 2]), T.tensor([0], [1], "int32")),
    "NON_FINITE",
    /crossEntropy: loss is NaN/,
  );
  expectError(() => T.reshape(a, [4, 2]), "SHAPE_MISMATCH", /cannot reshape \[2, 3\]/);
  expectError(() => T.slice(a, 1, 2, 5), "INDEX_OUT_OF_RANGE", /slice/);
  expectError(
    () => T.zeros([2], "float64", { ...referenceBackend, supportsFloat64: false }),
    "WRONG_DTYPE",
    /float64/,
  );
});

test("gradients accumulate across backward calls until zeroed", () => {
  const w = T.tensor([2], [1]).setRequiresGrad();
  T.backward(T.sum(T.mulScalar(w, 3)));
  T.backward(T.sum(T.mulScalar(w, 3)));
  assert.deepEqual(w.grad!.toArray(), [6]);
});

test("zeroGrad: grad reads as zeros until a backward pass replaces it, outliving the pass's scope, without leaking buffers", () => {
  const w = T.tensor([1, 2, 3, 4, 5, 6], [2, 3]).setRequiresGrad();
  T.scope(() => T.backward(T.sum(T.mulScalar(w, 3))));
  assert.deepEqual(w.grad!.toArray(), [3, 3, 3, 3, 3, 3]);
  const zeroed = w.grad;
  w.zeroGrad();
  assert.equal(w.grad, zeroed, "reading a pending zero fills the same tensor");
  assert.deepEqual(w.grad!.toArray(), [0, 0, 0, 0, 0, 0]);
  // a pass after zeroGrad replaces the gradient (no stale 3s added); its buffer outlives the step's scope
  const live = T.liveStorageCount();
  for (const factor of [2, 5, 7]) {
    w.zeroGrad();
    T.scope(() => T.backward(T.sum(T.mulScalar(w, factor))));
    assert.deepEqual(w.grad!.toArray(), [factor, factor, factor, factor, factor, factor]);
    assert.equal(T.liveStorageCount(), live, `no buffer leaked after the pass with factor ${factor}`);
  }
  // a second pass without zeroGrad still accumulates
  T.scope(() => T.backward(T.sum(T.mulScalar(w, 1))));
  assert.deepEqual(w.grad!.toArray(), [8, 8, 8, 8, 8, 8]);
  // a gradient the caller owns (gradOutput, here viewed through a reshape) is copied, never taken
  w.zeroGrad();
  const seed = T.tensor([1, -1, 2, -2, 3, -3], [6]);
  T.scope(() => T.backward(T.reshape(w, [6]), seed));
  seed.data.fill(0);
  assert.deepEqual(w.grad!.toArray(), [1, -1, 2, -2, 3, -3]);
});

test("an input read by several linears and another op gets the sum of their gradients (linears add theirs in place)", () => {
  // x [4, 3] feeds two linears and a product: loss = sum(lin1(x) * c1) + sum(lin2(x) * c2) + sum(x * d), so
  // dx = c1 W1 + c2 W2 + d, dW = c^T x, db = column sums of c. Whichever linear runs second adds into the
  // gradient the others left pending.
  const rng = new T.Rng(21);
  const values = (n: number) => Array.from({ length: n }, () => rng.normal());
  const [xv, w1v, w2v, b1v, c1v, c2v, dv] = [
    values(12),
    values(15),
    values(6),
    values(5),
    values(20),
    values(8),
    values(12),
  ];
  const x = T.tensor(xv, [4, 3]).setRequiresGrad();
  const w1 = T.tensor(w1v, [5, 3]).setRequiresGrad();
  const w2 = T.tensor(w2v, [2, 3]).setRequiresGrad();
  const b1 = T.tensor(b1v, [5]).setRequiresGrad();
  T.scope(() => {
    const loss = T.add(
      T.add(
        T.sum(T.mul(T.linear(x, w1, b1), T.tensor(c1v, [4, 5]))),
        T.sum(T.mul(T.linear(x, w2), T.tensor(c2v, [4, 2]))),
      ),
      T.sum(T.mul(x, T.tensor(dv, [4, 3]))),
    );
    T.backward(loss);
  });
  const dx: number[] = [];
  for (let i = 0; i < 4; i++)
    for (let j = 0; j < 3; j++) {
      let v = dv[i * 3 + j];
      for (let o = 0; o < 5; o++) v += c1v[i * 5 + o] * w1v[o * 3 + j];
      for (let o = 0; o < 2; o++) v += c2v[i * 2 + o] * w2v[o * 3 + j];
      dx.push(v);
    }
  const dw = (c: number[], outs: number) =>
    Array.from({ length: outs * 3 }, (_, k) => {
      const [o, j] = [Math.floor(k / 3), k % 3];
      let v = 0;
      for (let i = 0; i < 4; i++) v += c[i * outs + o] * xv[i * 3 + j];
      return v;
    });
  const db = Array.from({ length: 5 }, (_, o) => [0, 1, 2, 3].reduce((sum, i) => sum + c1v[i * 5 + o], 0));
  close(x.grad!.toArray(), dx, 1e-5);
  close(w1.grad!.toArray(), dw(c1v, 5), 1e-5);
  close(w2.grad!.toArray(), dw(c2v, 2), 1e-5);
  close(b1.grad!.toArray(), db, 1e-5);
});

test("gradient accumulation over two half batches equals one full batch", () => {
  const rng = new T.Rng(9);
  const w = T.tensor(
    Array.from({ length: 12 }, () => rng.normal()),
    [4, 3],
  ).setRequiresGrad();
  const x = T.tensor(
    Array.from({ length: 24 }, () => rng.normal()),
    [6, 4],
  );
  const targets = T.tensor([0, 1, 2, 2, 1, 0], [6], "int32");
  T.backward(T.crossEntropy(T.matmul(x, w), targets));
  const full = w.grad!.toArray();
  w.grad = null;
  for (const half of [0, 1]) {
    const rows = T.slice(x, 0, 3 * half, 3 * half + 3);
    const halfTargets = T.tensor(targets.toArray().slice(3 * half, 3 * half + 3), [3], "int32");
    const loss = T.crossEntropy(T.matmul(rows, w), halfTargets);
    T.backward(T.mulScalar(loss, 0.5));
  }
  close(w.grad!.toArray(), full, 1e-6);
});
