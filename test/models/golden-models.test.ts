// The conformance runner on ../shared/golden, every backend: each case kind adaptlm supports matches
// PyTorch within the README's tolerances.

import assert from "node:assert/strict";
import { test } from "node:test";
import { availableBackends } from "../../src/backend/registry.js";
import { listCases, runCase } from "../../src/eval/conformance/runner.js";
import { sharedPath } from "../io/shared-paths.js";

const root = sharedPath("golden");

test("the golden folder lists its cases", () => {
  assert.ok(listCases(root).length >= 22);
});

for (const caseName of listCases(root)) {
  for (const backend of availableBackends()) {
    test(`conformance ${caseName} on ${backend.name}`, () => {
      const result = runCase(root, caseName, backend);
      const failures = result.checks
        .filter((c) => !c.pass)
        .map((c) => `${c.quantity}: ${c.maxError} > ${c.tolerance} ${c.detail ?? ""}`);
      assert.ok(result.pass, `${caseName} on ${backend.name}: ${result.error ?? failures.join("; ")}`);
    });
  }
}
