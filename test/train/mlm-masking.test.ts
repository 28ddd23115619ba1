// MLM masking: the selection and replacement rates of transformers' DataCollatorForLanguageModeling within
// tight binomial bounds, specials and padding never selected, labels -100 elsewhere, seeded determinism.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Rng } from "../../src/tensor/random.js";
import { MaskingError, maskTokens } from "../../src/train/mlm-masking.js";

const VOCAB = 1000;
const MASK = 4;
const SPECIALS = new Set([0, 1, 2, 3, MASK]);

/** |observed - n p| within 5 standard deviations of a binomial(n, p). */
function assertBinomial(observed: number, n: number, p: number, what: string): void {
  const sd = Math.sqrt(n * p * (1 - p));
  assert.ok(
    Math.abs(observed - n * p) <= 5 * sd,
    `${what}: ${observed} of ${n}, expected ${(n * p).toFixed(1)} ± ${(5 * sd).toFixed(1)}`,
  );
}

function corpus(n: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  const ids = new Int32Array(n);
  // Every 10th token is special ([CLS]/[SEP]/[PAD]), the rest ordinary words.
  for (let i = 0; i < n; i++) ids[i] = i % 10 === 0 ? i % 4 : 5 + rng.int(VOCAB - 5);
  return ids;
}

test("selection 15%; of the selected 80% [MASK], 10% random, 10% unchanged (binomial bounds)", () => {
  const ids = corpus(400_000, 1);
  const { inputIds, labels } = maskTokens(ids, new Rng(7), {
    maskTokenId: MASK,
    vocabSize: VOCAB,
    specialIds: SPECIALS,
  });
  let eligible = 0;
  let selected = 0;
  let masked = 0;
  let unchanged = 0;
  for (let i = 0; i < ids.length; i++) {
    if (!SPECIALS.has(ids[i])) eligible++;
    if (labels[i] === -100) {
      assert.equal(inputIds[i], ids[i], `unselected position ${i} changed`);
      continue;
    }
    selected++;
    assert.equal(labels[i], ids[i], "the label is the original id");
    if (inputIds[i] === MASK) masked++;
    else if (inputIds[i] === ids[i]) unchanged++;
  }
  assertBinomial(selected, eligible, 0.15, "selected");
  // A random replacement can itself draw [MASK] or the original id (1 / VOCAB each).
  assertBinomial(masked, selected, 0.8 + 0.1 / VOCAB, "[MASK]");
  assertBinomial(unchanged, selected, 0.1 + 0.1 / VOCAB, "unchanged");
  assertBinomial(selected - masked - unchanged, selected, 0.1 * (1 - 2 / VOCAB), "random");
});

test("special tokens and padding are never selected", () => {
  const ids = Int32Array.from({ length: 50_000 }, (_, i) => i % 5); // only ids 0..4, all special
  const { inputIds, labels } = maskTokens(ids, new Rng(3), {
    maskTokenId: MASK,
    vocabSize: VOCAB,
    specialIds: SPECIALS,
    mlmProbability: 1,
  });
  assert.ok(labels.every((l) => l === -100));
  assert.deepEqual(inputIds, ids);
});

test("mlmProbability 1 with mask share 1 masks every ordinary token", () => {
  const ids = Int32Array.from([2, 10, 11, 12, 3, 0, 0]);
  const { inputIds, labels } = maskTokens(ids, new Rng(1), {
    maskTokenId: MASK,
    vocabSize: VOCAB,
    specialIds: SPECIALS,
    mlmProbability: 1,
    maskReplaceProbability: 1,
    randomReplaceProbability: 0,
  });
  assert.deepEqual([...inputIds], [2, MASK, MASK, MASK, 3, 0, 0]);
  assert.deepEqual([...labels], [-100, 10, 11, 12, -100, -100, -100]);
});

test("the same seed masks the same way; another seed differently; the input is untouched", () => {
  const ids = corpus(5000, 2);
  const copy = Int32Array.from(ids);
  const options = { maskTokenId: MASK, vocabSize: VOCAB, specialIds: SPECIALS };
  const a = maskTokens(ids, new Rng(11), options);
  const b = maskTokens(ids, new Rng(11), options);
  const c = maskTokens(ids, new Rng(12), options);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.labels, c.labels);
  assert.deepEqual(ids, copy);
});

test("bad options: typed errors", () => {
  const base = { maskTokenId: MASK, vocabSize: VOCAB, specialIds: SPECIALS };
  assert.throws(() => maskTokens([5], new Rng(1), { ...base, mlmProbability: 1.5 }), MaskingError);
  assert.throws(() => maskTokens([5], new Rng(1), { ...base, maskTokenId: -1 }), MaskingError);
});
