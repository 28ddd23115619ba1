// The lab models shipped under models/: each folder is what its recipe describes (the config's architecture
// fields equal the recipe's, the recipe's step count is the one it was trained with), stays under the 25 MB a
// shipped model may take, loads with its tokenizer, and its model card states the numbers of its own training
// log. A model re-made by hand and committed without its recipe, or a card edited away from its log, fails here.

import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { labModelPath } from "../../src/eval/demo.js";
import { loadLocalModel } from "../../src/models/load-model.js";
import { RECIPE_NAMES, RECIPES } from "../../src/train/recipes.js";

interface DoneRecord {
  type: "done";
  steps: number;
  completed: boolean;
  parameters: number;
  validationPerplexity: number;
}

for (const name of RECIPE_NAMES) {
  test(`models/${name} is its recipe's model, under 25 MB, and its card states its log`, () => {
    const folder = labModelPath(name);
    const weightsBytes = statSync(join(folder, "model.safetensors")).size;
    assert.ok(weightsBytes < 25e6, `${weightsBytes} bytes`);
    const recipe = RECIPES[name];
    const config = JSON.parse(readFileSync(join(folder, "config.json"), "utf8")) as Record<string, unknown>;
    for (const [key, value] of Object.entries(recipe.config)) {
      if (key === "vocab_size") continue; // follows the trained tokenizer
      assert.deepEqual(config[key], value, `${name} config ${key}`);
    }
    const log = readFileSync(join(folder, "training_log.jsonl"), "utf8").trim().split("\n");
    const done = JSON.parse(log[log.length - 1]) as DoneRecord;
    assert.equal(done.type, "done");
    assert.ok(done.completed);
    assert.equal(done.steps, recipe.steps, "trained with the recipe's step count");
    const loaded = loadLocalModel(folder);
    const parameters = loaded.model.namedParameters().reduce((total, [, p]) => total + p.size, 0);
    assert.equal(parameters, done.parameters);
    assert.equal(loaded.tokenizer?.vocabSize, config.vocab_size);
    const card = readFileSync(join(folder, "README.md"), "utf8");
    assert.match(card, new RegExp(`validation perplexity \\| ${done.validationPerplexity.toFixed(2)} \\|`));
    assert.match(
      card,
      new RegExp(`steps ${recipe.steps}, batch ${recipe.batchSize} x ${recipe.seqLen} tokens`),
    );
  });
}
