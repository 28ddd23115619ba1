// Backward passes on the live rows of a gradient (src/tensor/ops/sparse-rows.ts): the rows scan on every
// backend, the same gradients as the dense passes with fewer multiply-adds, and a tiny BERT classifier's step.

import assert from "node:assert/strict";
import { test } from "node:test";
import type { Backend, GemmArgs } from "../../src/backend/backend.js";
import { referenceBackend } from "../../src/backend/reference.js";
import { availableBackends } from "../../src/backend/registry.js";
import { parseHfConfig } from "../../src/io/hf-config.js";
import { BertModel } from "../../src/models/bert.js";
import { Linear } from "../../src/nn/index.js";
import * as T from "../../src/tensor/index.js";
import { setSparseRowGradients } from "../../src/tensor/ops/sparse-rows.js";
import { opCases, uniform } from "./op-cases.js";

test("nonzeroRows: every backend finds the rows holding a value (NaN counts, -0 does not) and stops past the limit", () => {
  for (const backend of availableBackends()) {
    for (const cols of [1, 5, 16, 37]) {
      const rows = 40;
      const x = new Float32Array(rows * cols);
      const expected: number[] = [];
      for (let r = 0; r < rows; r++) {
        const kind = r % 5;
        const at = (r * 7) % cols;
        if (kind === 1) x[r * cols + at] = -0;
        if (kind === 2) x[r * cols + at] = 1e-42; // a subnormal is a value
        if (kind === 3) x[r * cols + cols - 1] = Number.NaN;
        if (kind === 4) x[r * cols + at] = -3;
        if (kind >= 2) expected.push(r);
      }
      const out = new Int32Array(rows);
      const count = backend.nonzeroRows(x, rows, cols, rows, out);
      assert.deepEqual([...out.subarray(0, count)], expected, `${backend.name} cols ${cols}`);
      const limited = new Int32Array(6);
      assert.equal(backend.nonzeroRows(x, rows, cols, 5, limited), 6, `${backend.name}: limit 5 gives 6`);
      assert.deepEqual([...limited.subarray(0, 5)], expected.slice(0, 5));
      assert.equal(backend.nonzeroRows(new Float32Array(0), 0, cols, 3, limited), 0);
    }
  }
});

/** The reference backend, counting the work of the kernels a backward pass runs (elements or multiply-adds). */
function countingBackend(): { backend: Backend; work: () => number } {
  let work = 0;
  const r = referenceBackend;
  const backend: Backend = Object.create(r);
  backend.gemm = (g: GemmArgs) => {
    work += (g.batch ?? 1) * g.m * g.n * g.k;
    r.gemm(g);
  };
  backend.attentionBackward = (a) => {
    work += a.batch * a.heads * a.tq * a.tk * a.headDim;
    r.attentionBackward(a);
  };
  backend.layerNormBackward = (dy, x, w, mean, rstd, dx, dw, db, rows, cols) => {
    work += rows * cols;
    r.layerNormBackward(dy, x, w, mean, rstd, dx, dw, db, rows, cols);
  };
  backend.rmsNormBackward = (dy, x, w, rstd, dx, dw, rows, cols) => {
    work += rows * cols;
    r.rmsNormBackward(dy, x, w, rstd, dx, dw, rows, cols);
  };
  backend.unaryBackward = (op, x, y, dy, dx, n, alpha) => {
    work += n;
    r.unaryBackward(op, x, y, dy, dx, n, alpha);
  };
  return { backend, work: () => work };
}

function gradients(opCase: (typeof opCases)[number], sparse: boolean): { grads: number[][]; work: number } {
  const previous = setSparseRowGradients(sparse);
  try {
    const { backend, work } = countingBackend();
    return T.scope(() => {
      const rng = new T.Rng(99);
      const { params, fixed } = opCase.make(rng, "float64", backend);
      for (const p of params) p.setRequiresGrad();
      const out = opCase.run(params, fixed);
      const weights = uniform(rng, [...out.shape], "float64", backend, 0.5, 1.5);
      const before = work();
      T.backward(T.sum(T.mul(out, weights)));
      const grads = params.map((p) => (p.grad ? p.grad.toArray() : []));
      for (const p of params) p.grad?.dispose();
      return { grads, work: work() - before };
    });
  } finally {
    setSparseRowGradients(previous);
  }
}

for (const opCase of opCases.filter((c) => c.name.startsWith("live rows"))) {
  test(`${opCase.name}: the dense gradients, from less work`, () => {
    const sparse = gradients(opCase, true);
    const dense = gradients(opCase, false);
    sparse.grads.forEach((g, i) => {
      g.forEach((value, j) => {
        const expected = dense.grads[i][j];
        assert.ok(
          Math.abs(value - expected) <= 1e-12 * Math.max(1, Math.abs(expected)),
          `input ${i} [${j}]: ${value} vs dense ${expected}`,
        );
      });
    });
    assert.ok(
      sparse.work < dense.work,
      `backward kernels: ${sparse.work} elements and multiply-adds on live rows vs ${dense.work} dense`,
    );
  });
}

test("a NaN in a row the loss does not read stays out of the weight gradient", () => {
  T.scope(() => {
    const x = T.tensor(
      Array.from({ length: 8 * 3 }, (_, i) => (i === 20 ? Number.NaN : i / 10)),
      [8, 3],
      "float64",
      referenceBackend,
    );
    const w = T.tensor([1, 2, 3, 4, 5, 6], [2, 3], "float64", referenceBackend).setRequiresGrad();
    T.backward(T.sum(T.slice(T.linear(x, w), 0, 0, 1)));
    // row 0 of x is [0, 0.1, 0.2]: dW = [1, 1]^T x[0]
    assert.deepEqual(w.grad?.toArray(), [0, 0.1, 0.2, 0, 0.1, 0.2]);
  });
});

test("a tiny BERT classifier's training step: the same gradients with and without live rows", () => {
  const config = parseHfConfig({
    model_type: "bert",
    hidden_size: 16,
    num_attention_heads: 2,
    intermediate_size: 32,
    num_hidden_layers: 2,
    vocab_size: 50,
    max_position_embeddings: 16,
    type_vocab_size: 2,
    layer_norm_eps: 1e-12,
    hidden_act: "gelu",
  });
  const run = (sparse: boolean): Map<string, number[]> => {
    const previous = setSparseRowGradients(sparse);
    try {
      return T.scope(() => {
        const model = new BertModel(config, { seed: 3 });
        const classifier = new Linear(16, 3, { rng: new T.Rng(4) });
        const rng = new T.Rng(5);
        const ids = T.tensor(
          Array.from({ length: 4 * 16 }, () => rng.int(50)),
          [4, 16],
          "int32",
        );
        const labels = T.tensor([0, 2, 1, 2], [4], "int32");
        const pooled = model.forward({ inputIds: ids }).poolerOutput as T.Tensor;
        T.backward(T.crossEntropy(classifier.forward(pooled), labels));
        const grads = new Map<string, number[]>();
        for (const [name, p] of [...model.namedParameters(), ...classifier.namedParameters()])
          grads.set(name, p.grad ? p.grad.toArray() : []);
        return grads;
      });
    } finally {
      setSparseRowGradients(previous);
    }
  };
  const sparse = run(true);
  const dense = run(false);
  assert.equal(sparse.size, dense.size);
  for (const [name, g] of dense) {
    const s = sparse.get(name) ?? [];
    const scale = Math.max(1e-3, ...g.map(Math.abs));
    g.forEach((value, i) => {
      assert.ok(Math.abs(s[i] - value) <= 1e-5 * scale, `${name}[${i}]: ${s[i]} vs dense ${value}`);
    });
  }
});
