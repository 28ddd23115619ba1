import assert from "node:assert/strict";
import { test } from "node:test";
import { accuracyInterval, bootstrapInterval } from "../../src/train/bootstrap.js";

test("all-correct and all-wrong give degenerate intervals", () => {
  assert.deepEqual(accuracyInterval([true, true, true]), { value: 1, low: 1, high: 1, level: 0.95 });
  const wrong = accuracyInterval([false, false]);
  assert.equal(wrong.low, 0);
  assert.equal(wrong.high, 0);
});

test("interval of 50% accuracy on 400 examples is close to the normal approximation", () => {
  const correct = Array.from({ length: 400 }, (_, i) => i % 2 === 0);
  const interval = accuracyInterval(correct, { samples: 2000, seed: 3 });
  assert.equal(interval.value, 0.5);
  // Normal approximation: 0.5 ± 1.96 * sqrt(0.25 / 400) = 0.5 ± 0.049.
  assert.ok(Math.abs(interval.low - 0.451) < 0.012, `low ${interval.low}`);
  assert.ok(Math.abs(interval.high - 0.549) < 0.012, `high ${interval.high}`);
});

test("seeded: same seed same interval, different seed usually different", () => {
  const correct = Array.from({ length: 50 }, (_, i) => i % 3 !== 0);
  assert.deepEqual(accuracyInterval(correct, { seed: 7 }), accuracyInterval(correct, { seed: 7 }));
  const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const a = bootstrapInterval([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], mean, { seed: 1 });
  const b = bootstrapInterval([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], mean, { seed: 2 });
  assert.equal(a.value, 5.5);
  assert.notDeepEqual([a.low, a.high], [b.low, b.high]);
  assert.ok(a.low < 5.5 && a.high > 5.5);
});

test("bad options are range errors", () => {
  assert.throws(() => accuracyInterval([true], { level: 1 }), RangeError);
  assert.throws(() => accuracyInterval([true], { samples: 0 }), RangeError);
});
