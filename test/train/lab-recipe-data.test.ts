// The lab recipes' data: English corpus only for the encoder; for decoders English plus about as many
// characters of synthetic texts, with validation interleaving both; trained tokenizers with the specials
// pretrain() needs; the same seed gives the same data.

import assert from "node:assert/strict";
import { test } from "node:test";
import { labRecipeData } from "../../src/train/lab-recipe-data.js";
import { getRecipe } from "../../src/train/recipes.js";

const chars = (texts: readonly string[]) => texts.reduce((total, t) => total + t.length, 0);

test("decoder data: English + synthetic about 50/50 by characters, both in the first validation texts", () => {
  const data = labRecipeData(getRecipe("lab-decoder-s"), { seed: 1 });
  const isSynthetic = (t: string) => /^(Possible labels:|Q: )/.test(t);
  const synthetic = data.trainTexts.filter(isSynthetic);
  const share = chars(synthetic) / chars(data.trainTexts);
  assert.ok(share > 0.4 && share < 0.6, `synthetic share ${share}`);
  const first = data.validationTexts.slice(0, 20);
  assert.ok(
    first.some(isSynthetic) && first.some((t) => !isSynthetic(t)),
    "validation starts with both halves",
  );
  assert.equal(data.tokenizer.vocabSize, 4096);
  assert.equal(data.tokenizer.eosTokenId, 0);
  assert.ok(typeof data.tokenizerFiles["tokenizer.json"] === "string");
  assert.match(data.description, /synthetic/);
});

test("encoder data: English only, WordPiece with [CLS] [SEP] [MASK]", () => {
  const data = labRecipeData(getRecipe("lab-encoder"), { seed: 1 });
  assert.ok(!data.trainTexts.some((t) => t.startsWith("Possible labels:")));
  assert.ok(data.tokenizer.clsTokenId !== undefined && data.tokenizer.maskTokenId !== undefined);
  assert.ok(data.tokenizer.vocabSize <= 4096);
  assert.ok(data.validationTexts.length > 10);
});
