// Deferred random initialisation (what loading a checkpoint uses): building under deferRandomInit leaves random
// tensors at zero, and running every deferred fill afterwards, in any order, gives exactly the eager build's
// values, so a parameter a checkpoint lacks still gets the value it always had. A fill run for one tensor
// leaves the others and the generator's later draws untouched.

import assert from "node:assert/strict";
import { test } from "node:test";
import { parseHfConfig } from "../../src/io/hf-config.js";
import { buildModel } from "../../src/models/registry.js";
import { deferRandomInit, normalInit, uniformInit } from "../../src/nn/init.js";
import { Rng } from "../../src/tensor/random.js";

const configs = {
  bert: parseHfConfig({
    model_type: "bert",
    hidden_size: 16,
    num_attention_heads: 2,
    intermediate_size: 32,
    num_hidden_layers: 2,
    vocab_size: 50,
    max_position_embeddings: 24,
  }),
  llama: parseHfConfig({
    model_type: "llama",
    hidden_size: 16,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    intermediate_size: 24,
    num_hidden_layers: 2,
    vocab_size: 40,
    max_position_embeddings: 32,
  }),
};

for (const [family, config] of Object.entries(configs)) {
  test(`${family}: deferred fills reproduce the eager initialisation exactly`, () => {
    const kind = family === "bert" ? "masked-lm" : "causal-lm";
    const eager = buildModel(config, kind).model.namedParameters();
    const { result, pending } = deferRandomInit(() => buildModel(config, kind));
    const lazy = result.model.namedParameters();
    assert.ok(pending.length >= 4, "random tensors were deferred");
    const random = new Set(pending.map((p) => p.tensor.data));
    for (const [name, p] of lazy) {
      if (random.has(p.data))
        assert.ok(
          p.data.every((v) => v === 0),
          `${name} starts at zero`,
        );
    }
    for (const init of [...pending].reverse()) init.run();
    assert.equal(lazy.length, eager.length);
    for (const [i, [name, p]] of lazy.entries()) {
      assert.equal(name, eager[i][0]);
      assert.deepEqual(p.data, eager[i][1].data, name);
    }
  });
}

test("a fill leaves the generator where it was; normal and uniform skip their draws", () => {
  const rng = new Rng(7);
  const { pending } = deferRandomInit(() => [normalInit([3, 5], 1, rng), uniformInit([4], 1, rng)]);
  const reference = new Rng(7);
  for (let i = 0; i < 2 * 15 + 4; i++) reference.next();
  assert.equal(rng.next(), reference.next(), "the generator skipped 2 draws per normal and 1 per uniform");
  const before = rng.save();
  pending[1].run();
  assert.equal(rng.save(), before);
  const eager = new Rng(7);
  normalInit([3, 5], 1, eager);
  assert.deepEqual(pending[1].tensor.data, uniformInit([4], 1, eager).data);
});
