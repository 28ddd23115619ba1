// linear() through PackedWeights: on a backend that packs (native), a weight is packed on its second use
// in a product of 2-64 rows, and the product matches the unpacked one; everything else (one row,
// gradients, another view of the weight, outside the scope, a backend that cannot pack) multiplies in place.

import assert from "node:assert/strict";
import { test } from "node:test";
import type { Backend } from "../../src/backend/backend.js";
import { loadNativeBackend } from "../../src/backend/native.js";
import { referenceBackend } from "../../src/backend/reference.js";
import * as T from "../../src/tensor/index.js";
import { uniform } from "./op-cases.js";

const native = loadNativeBackend();

const needsNative = { skip: native === null ? "native backend not built" : false };

/** Runs fn on the native backend with its gemmPacked calls counted (restored afterwards). */
function withCountedPackedProducts(fn: (backend: Backend, count: () => number) => void): void {
  const backend = native as Backend;
  const original = backend.gemmPacked;
  let calls = 0;
  backend.gemmPacked = (...args) => {
    calls++;
    original?.apply(backend, args);
  };
  try {
    fn(backend, () => calls);
  } finally {
    backend.gemmPacked = original;
  }
}

/** Uniform in [-1, 1), seeded. */
const random = (shape: number[], seed: number, backend: Backend): T.Tensor =>
  uniform(new T.Rng(seed), shape, "float32", backend);

function maxDiff(a: T.Tensor, b: T.Tensor): number {
  let worst = 0;
  for (let i = 0; i < a.size; i++) worst = Math.max(worst, Math.abs(a.data[i] - b.data[i]));
  return worst;
}

test(
  "packed weights: the second product of 2-64 rows packs the weight, and both layouts match the in-place product",
  needsNative,
  () => {
    withCountedPackedProducts((backend, count) => {
      for (const layout of ["outIn", "inOut"] as const) {
        T.scope(() => {
          const weight = random(layout === "outIn" ? [70, 33] : [33, 70], 1, backend);
          const bias = random([70], 2, backend);
          const x = random([3, 4, 33], 3, backend);
          const plain = T.linear(x, weight, bias, layout);
          const packs = new T.PackedWeights();
          const before = count();
          const first = T.usePackedWeights(packs, () => T.linear(x, weight, bias, layout));
          assert.equal(count(), before, "first use: multiplied in place");
          assert.deepEqual(first.toArray(), plain.toArray());
          const second = T.usePackedWeights(packs, () => T.linear(x, weight, bias, layout));
          const third = T.usePackedWeights(packs, () => T.linear(x, weight, bias, layout));
          assert.equal(count(), before + 2, "second and third use: packed");
          assert.ok(maxDiff(second, plain) < 1e-5, `${layout}: ${maxDiff(second, plain)}`);
          assert.deepEqual(third.toArray(), second.toArray());
          // one row, more than PACKED_MAX_ROWS rows, and products outside the scope, read the weight in place
          const row = random([1, 1, 33], 10, backend);
          T.usePackedWeights(packs, () => T.linear(row, weight, null, layout));
          const prefill = random([T.PACKED_MAX_ROWS + 1, 33], 11, backend);
          T.usePackedWeights(packs, () => T.linear(prefill, weight, null, layout));
          T.linear(x, weight, bias, layout);
          assert.equal(count(), before + 2);
        });
      }
    });
  },
);

test(
  "packed weights: products that need gradients, or view the weight with another shape, are not packed",
  needsNative,
  () => {
    withCountedPackedProducts((backend, count) => {
      T.scope(() => {
        const weight = random([16, 8], 4, backend).setRequiresGrad();
        const x = random([5, 8], 5, backend);
        const packs = new T.PackedWeights();
        for (let i = 0; i < 3; i++) {
          const y = T.usePackedWeights(packs, () => T.linear(x, weight));
          T.backward(T.sum(y));
        }
        assert.equal(count(), 0);
        assert.deepEqual(weight.grad?.shape, [16, 8]);
        // the same storage as a [8, 16] operand after it was seen as [16, 8]
        const frozen = random([16, 8], 6, backend);
        const asOther = T.reshape(frozen, [8, 16]);
        const x16 = random([5, 16], 7, backend);
        T.noGrad(() =>
          T.usePackedWeights(packs, () => {
            T.linear(x, frozen);
            T.linear(x16, asOther);
            const viewed = T.linear(x16, asOther);
            const plain = T.linear(x16, asOther);
            assert.deepEqual(viewed.toArray(), plain.toArray());
          }),
        );
        assert.equal(count(), 0);
      });
    });
  },
);

test("packed weights: a backend without packWeight multiplies in place", () => {
  T.scope(() => {
    const weight = random([6, 4], 8, referenceBackend);
    const x = random([3, 4], 9, referenceBackend);
    const packs = new T.PackedWeights();
    assert.equal(packs.lookup(weight, 6, 4, true), null);
    assert.equal(packs.lookup(weight, 6, 4, true), null);
    const plain = T.linear(x, weight);
    const viaPacks = T.usePackedWeights(packs, () => T.linear(x, weight));
    assert.deepEqual(viaPacks.toArray(), plain.toArray());
  });
});
