// Every backend agrees with the reference backend on every op case, forward and backward, in float32.

import assert from "node:assert/strict";
import { test } from "node:test";
import type { Backend } from "../../src/backend/backend.js";
import { referenceBackend } from "../../src/backend/reference.js";
import { availableBackends } from "../../src/backend/registry.js";
import * as T from "../../src/tensor/index.js";
import { opCases, uniform } from "./op-cases.js";

const others = availableBackends().filter((b) => b.name !== "reference");

test("the accelerated backends are built (CI has a C compiler and AssemblyScript)", () => {
  const names = others.map((b) => b.name);
  assert.ok(
    names.includes("wasm"),
    `wasm backend missing (have: ${names.join(", ") || "none"}); run npm run build:wasm`,
  );
  if (process.env.CI)
    assert.ok(names.includes("native"), `native backend missing in CI (have: ${names.join(", ")})`);
});

/** Output and input gradients of sum(out * weights) for one case on one backend. */
function evaluate(
  backend: Backend,
  opCase: (typeof opCases)[number],
  seed: number,
): { output: number[]; grads: number[][] } {
  return T.scope(() => {
    const rng = new T.Rng(seed);
    const { params, fixed } = opCase.make(rng, "float32", backend);
    for (const p of params) p.setRequiresGrad();
    const out = opCase.run(params, fixed);
    const weights = uniform(rng, [...out.shape], "float32", backend, 0.5, 1.5);
    T.backward(T.sum(T.mul(out, weights)));
    const result = { output: out.toArray(), grads: params.map((p) => (p.grad ? p.grad.toArray() : [])) };
    for (const p of params) p.grad?.dispose();
    return result;
  });
}

function assertClose(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const scale = Math.max(1, ...expected.map(Math.abs));
  for (let i = 0; i < actual.length; i++) {
    const error = Math.abs(actual[i] - expected[i]);
    assert.ok(error <= 2e-5 * scale, `${what}[${i}]: ${actual[i]} vs reference ${expected[i]}`);
  }
}

for (const backend of others) {
  for (const opCase of opCases) {
    test(`${backend.name} matches reference: ${opCase.name}`, () => {
      for (const seed of [1, 2, 3]) {
        const ours = evaluate(backend, opCase, seed);
        const reference = evaluate(referenceBackend, opCase, seed);
        assertClose(ours.output, reference.output, `${opCase.name} seed ${seed} output`);
        for (const [i, g] of ours.grads.entries()) {
          assertClose(g, reference.grads[i], `${opCase.name} seed ${seed} grad ${i}`);
        }
      }
    });
  }
}
