// Lab recipes: parameter counts as described, the f16 lab-decoder-l under 25 MB, estimated times within
// their budgets, and recipeOptions follows the tokenizer's vocabulary.

import assert from "node:assert/strict";
import { test } from "node:test";
import { parseHfConfig } from "../../src/io/hf-config.js";
import { buildModel } from "../../src/models/registry.js";
import { getRecipe, RECIPE_NAMES, RECIPES, RecipeError, recipeOptions } from "../../src/train/recipes.js";

function parameters(name: (typeof RECIPE_NAMES)[number]): number {
  const r = RECIPES[name];
  const built = buildModel(parseHfConfig(r.config), r.objective === "mlm" ? "masked-lm" : "causal-lm");
  return built.model.namedParameters().reduce((total, [, p]) => total + p.size, 0);
}

test("recipe sizes and time budgets", () => {
  const s = parameters("lab-decoder-s");
  const m = parameters("lab-decoder-m");
  const l = parameters("lab-decoder-l");
  assert.ok(s > 0.8e6 && s < 1.6e6, `s ${s}`);
  assert.ok(m > 3e6 && m < 5e6, `m ${m}`);
  assert.ok(l > 9e6 && l < 11e6, `l ${l}`);
  assert.ok(l * 2 < 25e6, "lab-decoder-l in f16 stays under 25 MB");
  assert.equal(RECIPES["lab-decoder-l"].dtype, "f16");
  const encoder = parameters("lab-encoder");
  assert.ok(encoder > 0.8e6 && encoder < 1.2e6, `encoder ${encoder}`);
  const minutes = (name: (typeof RECIPE_NAMES)[number]) => RECIPES[name].estimatedMinutes;
  // The smallest decoder is the quick one (the demo's generalist); nothing may exceed the hour.
  assert.ok(minutes("lab-decoder-s") <= 30);
  assert.ok(
    minutes("lab-decoder-s") < minutes("lab-decoder-m") &&
      minutes("lab-decoder-m") < minutes("lab-decoder-l"),
  );
  for (const name of RECIPE_NAMES) assert.ok(minutes(name) <= 60, name);
});

test("recipeOptions takes the tokenizer's vocabulary; unknown names are a typed error", () => {
  const options = recipeOptions(getRecipe("lab-decoder-s"), 4100);
  assert.equal(options.config.vocab_size, 4100);
  assert.equal(options.objective, "clm");
  assert.throws(() => getRecipe("lab-huge"), RecipeError);
});
