// Trainer metric functions (TrainerOptions.metrics) for the heads: sequence classification (accuracy,
// macro-F1, Matthews correlation) and token classification (seqeval-style entity F1 over BIO tags).

import { alignedTags, entityF1 } from "../heads/entity-f1.js";
import type { EvalPrediction } from "./trainer.js";

function argmaxRows(values: Float32Array, width: number): number[] {
  const out: number[] = [];
  for (let start = 0; start < values.length; start += width) {
    let best = 0;
    for (let i = 1; i < width; i++) if (values[start + i] > values[start + best]) best = i;
    out.push(best);
  }
  return out;
}

/** accuracy, macro_f1 and mcc (multi-class Matthews correlation, as sklearn) from `logits` and `label`. */
export function classificationMetrics(
  numLabels: number,
): (predictions: EvalPrediction[]) => Record<string, number> {
  return (predictions): Record<string, number> => {
    const confusion = Array.from({ length: numLabels }, () => new Array<number>(numLabels).fill(0));
    let n = 0;
    for (const p of predictions) {
      if (p.example.label === undefined) continue;
      const predicted = argmaxRows(p.outputs.logits, numLabels)[0];
      confusion[p.example.label][predicted]++;
      n++;
    }
    if (n === 0) return {};
    let correct = 0;
    let f1Sum = 0;
    const rowSums = confusion.map((row) => row.reduce((a, b) => a + b, 0));
    const colSums = confusion[0].map((_, c) => confusion.reduce((a, row) => a + row[c], 0));
    for (let k = 0; k < numLabels; k++) {
      correct += confusion[k][k];
      const precision = colSums[k] ? confusion[k][k] / colSums[k] : 0;
      const recall = rowSums[k] ? confusion[k][k] / rowSums[k] : 0;
      f1Sum += precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    }
    const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);
    const numerator = correct * n - dot(rowSums, colSums);
    const denominator = Math.sqrt((n * n - dot(colSums, colSums)) * (n * n - dot(rowSums, rowSums)));
    return {
      accuracy: correct / n,
      macro_f1: f1Sum / numLabels,
      mcc: denominator ? numerator / denominator : 0,
    };
  };
}

/** entity_precision, entity_recall, entity_f1 over BIO tags, positions with label -100 left out. */
export function entityMetrics(
  labelNames: readonly string[],
): (predictions: EvalPrediction[]) => Record<string, number> {
  return (predictions) => {
    const gold: string[][] = [];
    const predicted: string[][] = [];
    for (const p of predictions) {
      const labels = p.example.labels;
      if (!labels) continue;
      const ids = argmaxRows(p.outputs.logits, labelNames.length).slice(0, labels.length);
      const tags = alignedTags(ids, labels, labelNames);
      gold.push(tags.gold);
      predicted.push(tags.predicted);
    }
    const scores = entityF1(gold, predicted);
    return { entity_precision: scores.precision, entity_recall: scores.recall, entity_f1: scores.f1 };
  };
}
