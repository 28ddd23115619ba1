// The engine demo learns its toy task, and is deterministic for a seed.

import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultEngineDemoOptions, runEngineDemo } from "../../src/eval/engine-demo.js";

test("the demo transformer learns the majority task well above the baseline, deterministically", () => {
  const options = { ...defaultEngineDemoOptions, steps: 120 };
  const first = runEngineDemo(options);
  const second = runEngineDemo(options);
  assert.deepEqual(first.losses, second.losses, "same seed, same backend: same losses");
  const early = first.losses.slice(0, 10).reduce((a, b) => a + b) / 10;
  const late = first.losses.slice(-10).reduce((a, b) => a + b) / 10;
  assert.ok(late < early / 4, `loss should fall: first 10 steps ${early}, last 10 ${late}`);
  assert.ok(
    first.testAccuracy > first.majorityBaseline + 0.4,
    `held-out ${first.testAccuracy} vs baseline ${first.majorityBaseline}`,
  );
});
