// The step-1 rule for fragile elements (zero true gradient): within the README's lr, or within 2 lr when
// the value is exactly the AdamW update of our own near-zero gradient.

import assert from "node:assert/strict";
import { test } from "node:test";
import { compareStep } from "../../src/eval/conformance/checks.js";

const tolerances = { step1_atol: 1e-5, fragile_grad_threshold: 1e-5, fragile_step1_atol: 1.05e-2 };
const lr = 1e-2;
const eps = 1e-8;

function stepFrom(p0: number, g: number): number {
  return p0 - (lr * g) / (Math.abs(g) + eps);
}

test("a fragile element whose reference and own noise have opposite signs passes when self-consistent", () => {
  const p0 = 0.5;
  const reference = stepFrom(p0, 5.96e-8); // PyTorch's noise
  const ours = stepFrom(p0, -1.4e-8); // ours, opposite sign: 1.44 lr apart
  const check = compareStep(
    "b",
    [ours],
    [reference],
    { referenceGrad: [5.96e-8], ownGrad: [-1.4e-8], initial: [p0], lr, eps, weightDecay: 0 },
    tolerances,
  );
  assert.ok(Math.abs(ours - reference) > tolerances.fragile_step1_atol);
  assert.equal(check.pass, true, check.detail);
  assert.match(check.detail ?? "", /within 2 lr/);
});

test("a fragile element that is not the update of our own gradient fails", () => {
  const p0 = 0.5;
  const reference = stepFrom(p0, 5.96e-8);
  const wrong = reference - 0.015; // an optimizer bug, not noise
  const check = compareStep(
    "b",
    [wrong],
    [reference],
    { referenceGrad: [5.96e-8], ownGrad: [-1.4e-8], initial: [p0], lr, eps, weightDecay: 0 },
    tolerances,
  );
  assert.equal(check.pass, false);
});

test("non-fragile elements need step1_atol", () => {
  const check = compareStep(
    "w",
    [1.00002],
    [1],
    { referenceGrad: [0.3], ownGrad: [0.3], initial: [1.01], lr, eps, weightDecay: 0 },
    tolerances,
  );
  assert.equal(check.pass, false);
  assert.equal(
    compareStep(
      "w",
      [1.000005],
      [1],
      { referenceGrad: [0.3], ownGrad: [0.3], initial: [1.01], lr, eps, weightDecay: 0 },
      tolerances,
    ).pass,
    true,
  );
});
