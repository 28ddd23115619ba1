// The repeated-sequence probe: its batch is a random copy followed by itself, and its two losses score exactly
// the positions they claim (checked against stand-in models whose losses are known in closed form).

import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../src/tensor/index.js";
import { repeatedSequenceLoss, repeatedSequences } from "../../src/train/induction-probe.js";

test("repeatedSequences: each row is a copy followed by itself, after the prefix, ids in range", () => {
  const { ids, rows, width } = repeatedSequences({
    vocabSize: 100,
    length: 6,
    sequences: 3,
    prefixId: 1,
    seed: 4,
  });
  assert.equal(rows, 3);
  assert.equal(width, 13);
  for (let r = 0; r < rows; r++) {
    const row: number[] = Array.from(ids.subarray(r * width, (r + 1) * width));
    assert.equal(row[0], 1);
    assert.deepEqual(row.slice(1, 7), row.slice(7));
    for (const id of row.slice(1)) assert.ok(id >= 25 && id < 100, `id ${id}`);
  }
  const again = repeatedSequences({ vocabSize: 100, length: 6, sequences: 3, prefixId: 1, seed: 4 });
  assert.deepEqual(again.ids, ids, "seeded");
  assert.throws(() => repeatedSequences({ vocabSize: 10, firstId: 10 }), RangeError);
});

/** A stand-in causal LM: logits [rows, width, vocab] from `score(row ids, position)` (a logit per token). */
function standIn(vocab: number, score: (ids: number[], t: number) => Float32Array) {
  return {
    forward({ inputIds }: { inputIds: T.Tensor }): T.Tensor {
      const [rows, width] = inputIds.shape;
      const out = new Float32Array(rows * width * vocab);
      for (let r = 0; r < rows; r++) {
        const ids = Array.from(inputIds.data.subarray(r * width, (r + 1) * width));
        for (let t = 0; t < width; t++) out.set(score(ids, t), (r * width + t) * vocab);
      }
      return T.tensor(out, [rows, width, vocab]);
    },
  };
}

/**
 * A model that, from position `start` on, puts logit 40 on the token `lag` positions back, uniform before:
 * lag = length - 1 continues a sequence seen one period earlier (predicts ids[t + 1] = ids[t + 1 - length]).
 */
function copier(vocab: number, start: number, lag: number) {
  return standIn(vocab, (ids, t) => {
    const logits = new Float32Array(vocab);
    if (t >= start) logits[ids[t - lag]] = 40;
    return logits;
  });
}

test("repeatedSequenceLoss: a model that copies from one period back has no loss on the second copy", () => {
  const vocab = 50;
  const length = 8;
  const options = { vocabSize: vocab, length, sequences: 4, prefixId: 0, seed: 2 };
  // with a prefix token, the second copy's predictions start at t = 1 + length
  const result = repeatedSequenceLoss(copier(vocab, 1 + length, length - 1), options);
  assert.ok(Math.abs(result.firstCopy - Math.log(vocab)) < 1e-9, `first ${result.firstCopy}`);
  assert.ok(result.secondCopy < 1e-12, `second ${result.secondCopy}`);
  // one position off (copying the token itself instead of its successor) is as bad as guessing
  const off = repeatedSequenceLoss(copier(vocab, 1 + length, length), options);
  assert.ok(off.secondCopy > 30, `second ${off.secondCopy}`);
});

test("repeatedSequenceLoss: without a prefix, and a uniform model scores ln(vocab) on both copies", () => {
  const vocab = 30;
  const options = { vocabSize: vocab, length: 5, sequences: 2 };
  const result = repeatedSequenceLoss(
    standIn(vocab, () => new Float32Array(vocab)),
    options,
  );
  assert.ok(Math.abs(result.firstCopy - Math.log(vocab)) < 1e-9);
  assert.ok(Math.abs(result.secondCopy - Math.log(vocab)) < 1e-9);
  assert.ok(repeatedSequenceLoss(copier(vocab, 5, 4), options).secondCopy < 1e-12);
});
