// The local engine ends a text at the eos ids of the model folder's generation_config.json, as `generate` and
// `serve` do: greedy output from a copy of tiny GPT-2 whose file names the plain run's first token as eos
// stops after that token.

import assert from "node:assert/strict";
import { test } from "node:test";
import { LocalLanguageModel } from "../../src/lm/local-engine.js";
import { tinyGpt2Folder, tinyGpt2WithGenerationConfig } from "../models/model-fixtures.js";

test("generation_config.json eos ids end local generations", async () => {
  const request = { prompt: " lowest newer wider", maxTokens: 5, temperature: 0, logprobs: 0 };
  const plain = (await new LocalLanguageModel(tinyGpt2Folder).generate(request)).choices[0];
  assert.equal(plain.finishReason, "length");
  const first = plain.logprobs?.[0]?.token as string;
  const plainLm = new LocalLanguageModel(tinyGpt2Folder);
  const loaded = await plainLm.load();
  const id = loaded.tokenizer?.encode(first, { addSpecialTokens: false }).ids[0] as number;
  const dir = tinyGpt2WithGenerationConfig({ eos_token_id: id });
  const ended = (await new LocalLanguageModel(dir).generate(request)).choices[0];
  assert.equal(ended.finishReason, "stop");
  assert.equal(ended.logprobs?.length, 1);
  assert.equal(ended.text, first);
});
