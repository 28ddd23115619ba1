// Mistral-style sliding-window attention: a window as long as the sequence changes nothing, a short one
// changes the logits, and decoding through the KV cache equals recomputing the whole sequence.

import assert from "node:assert/strict";
import { test } from "node:test";
import { parseHfConfig } from "../../src/io/hf-config.js";
import { generate } from "../../src/models/generate.js";
import { LlamaForCausalLM } from "../../src/models/llama.js";
import * as T from "../../src/tensor/index.js";

function mistral(slidingWindow: number | null): LlamaForCausalLM {
  const config = parseHfConfig({
    model_type: "mistral",
    vocab_size: 50,
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 64,
    sliding_window: slidingWindow,
  });
  return new LlamaForCausalLM(config, { seed: 5 });
}

function logits(model: LlamaForCausalLM, ids: number[]): Float32Array {
  return T.scope(() =>
    T.noGrad(() =>
      Float32Array.from(model.forward({ inputIds: T.tensor(ids, [1, ids.length], "int32") }).data),
    ),
  );
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

test("a window at least as long as the sequence equals full attention; a short one does not", () => {
  const ids = [3, 14, 15, 9, 26, 5, 35, 8, 9, 7];
  const full = logits(mistral(null), ids);
  assert.ok(maxDifference(logits(mistral(10), ids), full) < 1e-6);
  const windowed = logits(mistral(3), ids);
  const vocab = 50;
  // The first 3 positions see at most 3 keys either way: identical. Later positions differ.
  assert.ok(maxDifference(windowed.subarray(0, 3 * vocab), full.subarray(0, 3 * vocab)) < 1e-6);
  assert.ok(maxDifference(windowed.subarray(5 * vocab), full.subarray(5 * vocab)) > 1e-3);
});

test("cached decoding with a window equals recomputing the sequence at every step", () => {
  const model = mistral(3);
  const prompt = [1, 7, 22, 4, 9];
  const cached = generate(model, prompt, { maxNewTokens: 8 });
  const uncached = generate(model, prompt, { maxNewTokens: 8, useCache: false });
  assert.deepEqual(cached.tokens, uncached.tokens);
  cached.logprobs.forEach((lp, i) => {
    assert.ok(Math.abs(lp - uncached.logprobs[i]) < 1e-4);
  });
});
