// GPT-2 inference gives each layer's input back to the pool once the layer has run, so the buffers alive
// after a forward pass do not grow with the number of layers; a caller's inputsEmbeds is never freed, and the
// logits are the same as before.

import assert from "node:assert/strict";
import { test } from "node:test";
import { parseHfConfig } from "../../src/io/hf-config.js";
import { GPT2LMHeadModel } from "../../src/models/gpt2.js";
import * as T from "../../src/tensor/index.js";

function tinyGpt2(layers: number): GPT2LMHeadModel {
  const config = parseHfConfig(
    { model_type: "gpt2", n_embd: 16, n_layer: layers, n_head: 2, vocab_size: 40, n_positions: 32 },
    "tiny-gpt2",
  );
  return new GPT2LMHeadModel(config, { seed: 3 });
}

/** Buffers created by one forward pass that are still alive when it returns (logits included). */
function liveAfterForward(model: GPT2LMHeadModel, inputs: () => Parameters<GPT2LMHeadModel["forward"]>[0]) {
  return T.scope(() =>
    T.noGrad(() => {
      const given = inputs();
      const before = T.liveStorageCount();
      const logits = model.forward(given);
      return { live: T.liveStorageCount() - before, logits: Array.from(logits.data), given };
    }),
  );
}

test("buffers alive after a noGrad forward do not depend on the number of layers", () => {
  const ids = () => ({ inputIds: T.tensor([1, 7, 3, 9, 2], [1, 5], "int32") });
  const counts = [1, 2, 6].map((layers) => liveAfterForward(tinyGpt2(layers), ids).live);
  assert.equal(new Set(counts).size, 1, `live buffers for 1, 2, 6 layers: ${counts.join(", ")}`);
});

test("inputsEmbeds stays the caller's; logits equal a grad-mode forward's", () => {
  const model = tinyGpt2(3);
  const embeds = T.scope(() =>
    T.keep(
      T.tensor(
        Array.from({ length: 3 * 16 }, (_, i) => Math.cos(i)),
        [1, 3, 16],
      ),
    ),
  );
  const { logits } = liveAfterForward(model, () => ({ inputsEmbeds: embeds }));
  assert.ok(!embeds.disposed, "the caller's embeddings are not freed");
  const withGrad = T.scope(() => Array.from(model.forward({ inputsEmbeds: embeds }).data));
  assert.deepEqual(logits, withGrad);
  embeds.dispose();
});
