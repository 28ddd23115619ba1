// Every op's analytic gradient against central finite differences, in float64 on the reference backend.

import assert from "node:assert/strict";
import { test } from "node:test";
import { referenceBackend } from "../../src/backend/reference.js";
import type { Tensor } from "../../src/tensor/index.js";
import * as T from "../../src/tensor/index.js";
import { opCases, uniform } from "./op-cases.js";

/** sum(out * weights): a scalar whose gradient exercises every output element differently. */
function weightedSum(out: Tensor, weights: Tensor): Tensor {
  return T.sum(T.mul(out, weights));
}

for (const opCase of opCases) {
  test(`gradient check: ${opCase.name}`, () => {
    T.scope(() => {
      const rng = new T.Rng(1234);
      const { params, fixed } = opCase.make(rng, "float64", referenceBackend);
      for (const p of params) p.setRequiresGrad();
      const probe = T.noGrad(() => opCase.run(params, fixed));
      const weights = uniform(rng, [...probe.shape], "float64", referenceBackend, 0.5, 1.5);
      const loss = weightedSum(opCase.run(params, fixed), weights);
      T.backward(loss);
      const h = 1e-6;
      params.forEach((p, index) => {
        const analytic = p.grad ? p.grad.toArray() : new Array(p.size).fill(0);
        const data = p.data;
        for (let i = 0; i < p.size; i++) {
          const saved = data[i];
          data[i] = saved + h;
          const plus = T.noGrad(() => weightedSum(opCase.run(params, fixed), weights).item());
          data[i] = saved - h;
          const minus = T.noGrad(() => weightedSum(opCase.run(params, fixed), weights).item());
          data[i] = saved;
          const numeric = (plus - minus) / (2 * h);
          const error = Math.abs(numeric - analytic[i]);
          assert.ok(
            error <= 1e-6 * Math.max(1, Math.abs(numeric)),
            `${opCase.name}: input ${index} element ${i}: analytic ${analytic[i]} vs numeric ${numeric}`,
          );
        }
      });
    });
  });
}
