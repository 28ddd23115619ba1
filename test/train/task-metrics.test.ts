// Metric functions for the Trainer on hand-computed confusion matrices and tag sequences.

import assert from "node:assert/strict";
import { test } from "node:test";
import { classificationMetrics, entityMetrics } from "../../src/train/task-metrics.js";
import type { EvalPrediction } from "../../src/train/trainer.js";

const prediction = (label: number, logits: number[]): EvalPrediction => ({
  example: { inputIds: [1], label },
  outputs: { logits: Float32Array.from(logits) },
});

test("accuracy, macro-F1 and MCC", () => {
  // gold 1,1,0,0 predicted 1,0,0,0: TP=1 FN=1 TN=2 FP=0
  const m = classificationMetrics(2)([
    prediction(1, [0, 1]),
    prediction(1, [1, 0]),
    prediction(0, [1, 0]),
    prediction(0, [2, 1]),
  ]);
  assert.equal(m.accuracy, 0.75);
  // class 0: p 2/3 r 1 f1 0.8; class 1: p 1 r 0.5 f1 2/3
  assert.ok(Math.abs(m.macro_f1 - (0.8 + 2 / 3) / 2) < 1e-12);
  // (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = 2 / sqrt(1*2*2*3)
  assert.ok(Math.abs(m.mcc - 2 / Math.sqrt(12)) < 1e-12);
});

test("entity F1 ignores -100 positions", () => {
  const names = ["O", "B-PER", "I-PER"];
  const row = (ids: number[]) => ids.flatMap((id) => names.map((_, k) => (k === id ? 1 : 0)));
  const p: EvalPrediction = {
    example: { inputIds: [2, 7, 8, 9, 3], labels: [-100, 1, 2, 0, -100] },
    outputs: { logits: Float32Array.from(row([1, 1, 2, 1, 1])) },
  };
  const m = entityMetrics(names)([p]);
  // gold: PER(0..1); predicted: PER(0..1), PER(2..2)
  assert.equal(m.entity_recall, 1);
  assert.equal(m.entity_precision, 0.5);
});
