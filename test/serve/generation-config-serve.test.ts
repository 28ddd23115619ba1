// `adaptlm serve` ends completions at the eos ids of the model folder's generation_config.json, as it ends them at
// config.json's: greedy text from the served copy is the base's text up to and including the first such token
// (it is no special token here, so its text stays, as the CLI's does).

import assert from "node:assert/strict";
import { test } from "node:test";
import { loadModel } from "../../src/models/load-model.js";
import { startOpenAIServer } from "../../src/serve/openai-server.js";
import { tinyGpt2Folder, tinyGpt2WithGenerationConfig } from "../models/model-fixtures.js";

interface Completion {
  choices: { text: string; finish_reason: string; logprobs: { tokens: string[] } }[];
}

async function complete(folder: string): Promise<Completion> {
  const server = await startOpenAIServer(await loadModel(folder), { port: 0, modelName: "tiny" });
  try {
    const response = await fetch(`${server.url}/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: " lowest newer wider", max_tokens: 6, temperature: 0, logprobs: 0 }),
    });
    assert.equal(response.status, 200);
    return (await response.json()) as Completion;
  } finally {
    await server.close();
  }
}

test("generation_config.json eos ids end served completions", async () => {
  const plain = (await complete(tinyGpt2Folder)).choices[0];
  assert.equal(plain.finish_reason, "length");
  const loaded = await loadModel(tinyGpt2Folder);
  const third = plain.logprobs.tokens[2];
  const id = loaded.tokenizer?.encode(third, { addSpecialTokens: false }).ids[0] as number;
  const dir = tinyGpt2WithGenerationConfig({ eos_token_id: [id] });
  const ended = (await complete(dir)).choices[0];
  assert.equal(ended.finish_reason, "stop");
  const cut = plain.logprobs.tokens.indexOf(third);
  assert.equal(ended.text, plain.logprobs.tokens.slice(0, cut + 1).join(""));
  assert.ok(ended.text.length < plain.text.length, "generation ended early");
});
